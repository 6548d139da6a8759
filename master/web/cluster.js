/* cluster.js - the primary's cluster page, from its GET /v1/status: masters and
 * their health, slaves and their spool backlogs, and per job the sources' lag,
 * the leases, the rounds (incomplete ones marked) and the rejected lines. */
'use strict';

(function (A) {
  const el = A.el;

  function tbl(head, rows, numeric) {
    return el('div', { class: 'tablewrap' }, el('table', { class: 'rt' },
      el('thead', null, el('tr', null, head.map((h, i) => el('th', { class: numeric[i] ? 'n' : 'k' }, h)))),
      el('tbody', null, rows.map(r => el('tr', null, r.map((v, i) =>
        el('td', { class: numeric[i] ? 'n' : 'k' }, v)))))),
      rows.length ? null : el('p', { class: 'empty' }, 'none'));
  }

  function dot(ok, text) {
    return el('span', { class: 'health ' + (ok ? 'up' : 'down') }, text);
  }

  function link(url, text) {
    const u = A.safeUrl(url);
    return u ? el('a', { href: u + '/', rel: 'noopener' }, text || u) : (text || '–');
  }

  function mastersCard(st, d, now) {
    const peers = new Map((st.masters || []).map(m => [m.name, m]));
    const rows = (d.masters || []).map(m => {
      const self = m.name === st.name;
      const p = peers.get(m.name);
      const up = self || (p && p.up);
      return [m.name, self ? st.role : 'secondary', link(m.url),
        dot(up, up ? 'up' : 'DOWN'),
        self ? 'this master' : (p && p.last_seen_ms ? A.ago(now - p.last_seen_ms) + ' ago' : 'never')];
    });
    return card('wide', 'Masters', tbl(['master', 'role', 'address', 'health', 'last seen'], rows, []));
  }

  function slavesCard(sc, now) {
    const rows = (sc.slaves || []).map(v => {
      const seen = now - v.last_seen_ms;
      return [v.name, (v.labels || []).join(', ') || '–',
        dot(seen < 30000, A.ago(seen) + ' ago'),
        v.spool ? A.num(v.spool.frames) : '–', v.spool ? A.bytes(v.spool.bytes) : '–',
        v.spool && v.spool.frames ? A.ago(now - v.spool.oldest_ms) : '–'];
    });
    return card('wide', 'Slaves', tbl(['slave', 'labels', 'last seen', 'spooled frames', 'spool', 'oldest spooled'],
      rows, [0, 0, 0, 1, 1, 1]));
  }

  function jobCards(sj, mj, now) {
    const lc = sj.last_closed;
    const reasons = Object.entries((mj && mj.bad_lines_by_reason) || {})
      .map(([k, v]) => `${k} ${A.num(v)}`).join(', ');
    const figs = el('div', { class: 'figs' },
      fig(lc ? `round ${lc.round} closed` : 'no round closed yet', lc ? A.ago(now - lc.closed_ms) + ' ago' : '–',
        lc && lc.incomplete ? 'incomplete' : null),
      fig('open rounds', A.num((sj.open_rounds || []).length)),
      fig('rounds incomplete', mj ? A.num(mj.rounds_incomplete) : '–', mj && mj.rounds_incomplete ? 'warn' : null),
      fig('lines', mj ? A.num(mj.lines) : '–'),
      fig('rejected lines', mj ? A.num(mj.bad_lines) : '–', mj && mj.bad_lines ? 'warn' : null),
      fig('frames rejected', mj ? A.num(mj.partials.rejected) : '–', mj && mj.partials.rejected ? 'warn' : null));
    const out = [card('wide', `Job ${sj.name}`, figs, reasons ? el('p', { class: 'sub' }, 'rejected by reason: ' + reasons) : null,
      lc && lc.incomplete ? el('p', { class: 'badge inc' }, `round ${A.num(lc.round)} closed incomplete: ${lc.missing.length} task(s) missing`) : null)];
    const srcs = (sj.sources || []).map(s => [s.source + (s.instance ? ' #' + s.instance : ''), s.kind,
      A.bytes(s.offset), s.size === undefined ? '–' : A.bytes(s.size),
      s.lag_bytes === null ? '–' : el('span', { class: s.lag_bytes > 0 ? 'lag' : '' }, A.bytes(s.lag_bytes)),
      A.num(s.lines), A.num(s.bad_lines)]);
    out.push(card('wide', `Sources of ${sj.name}`, tbl(['source', 'kind', 'read', 'size', 'lag', 'lines', 'rejected'],
      srcs, [0, 0, 1, 1, 1, 1, 1])));
    const leases = (sj.leases || []).map(l => [A.num(l.id), A.num(l.task), l.slave, A.num(l.round),
      A.ago(l.expires_ms - now)]);
    out.push(card('', `Leases of ${sj.name}`, tbl(['lease', 'task', 'slave', 'round', 'expires in'], leases, [1, 1, 0, 1, 1])));
    return out;
  }

  function fig(label, value, cls) {
    return el('div', { class: 'fig' + (cls ? ' ' + cls : '') }, el('div', { class: 'fig-v' }, value),
      el('div', { class: 'fig-l' }, label));
  }

  function card(cls, title, ...body) {
    return el('section', { class: 'card ' + cls }, el('h3', null, title), body);
  }

  /* The cluster page's cards from the primary's status st and the description d. */
  A.clusterView = function (st, d) {
    const now = Date.now();
    const sc = st.scheduler || { jobs: [], slaves: [] };
    const mjobs = new Map(((st.merger && st.merger.jobs) || []).map(j => [j.name, j]));
    const cards = [mastersCard(st, d, now), slavesCard(sc, now)];
    for (const sj of sc.jobs) cards.push(...jobCards(sj, mjobs.get(sj.name), now));
    const r = sc.repairs;
    if (r)
      cards.push(card('', 'Gap repairs', el('div', { class: 'figs' }, fig('queued', A.num(r.queued)),
        fig('leased', A.num(r.leased)), fig('done', A.num(r.done)), fig('failed', A.num(r.failed), r.failed ? 'warn' : null))));
    return el('div', { class: 'grid' }, cards);
  };
})(abbey);
