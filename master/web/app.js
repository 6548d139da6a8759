/* app.js - the dashboard page: fetch what this master shows, draw it, poll.
 *
 * Served by a master (GET /): GET /v1/dashboard says which jobs and reports
 * this master owns; each owned report comes from GET /v1/reports/...?format=json;
 * the primary adds its GET /v1/status for the cluster page (#cluster). It polls
 * again once per round of its fastest job (never faster than 1 s). A 401 (the
 * session ended) reloads the page, which then asks for the token. Opened from
 * a one-file report (--html), it reads the same data from #abbey-data, and
 * never touches the network. */
'use strict';

(function (A) {
  const el = A.el;
  const inline = document.getElementById('abbey-data');
  const HISTORY_ROUNDS = 500;
  const S = {
    cards: new Map(), /* job/report -> the card's state (sort, points, open parts) */
    view: location.hash === '#cluster' ? 'cluster' : 'reports',
    updates: 0, last: null, error: null
  };

  async function get(path) {
    const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (r.status === 401) {
      location.reload(); /* the session is over: the page asks for the token */
      throw new Error('the session ended');
    }
    if (!r.ok) {
      const e = new Error(`${path}: HTTP ${r.status}`);
      e.status = r.status;
      throw e;
    }
    return r.json();
  }

  const enc = encodeURIComponent;
  const reportPath = (job, rep) => `/v1/reports/${enc(job)}/${enc(rep)}?format=json`;

  function cardState(key) {
    let st = S.cards.get(key);
    if (!st) S.cards.set(key, st = {});
    return st;
  }

  /* What a card's figures come from: the round or period, and whether incomplete. */
  function freshness(job, rep) {
    const f = job.fresh || {};
    if (S.last.inline) return { text: 'the whole run' };
    if (rep.scope === 'round') {
      const r = f.round;
      if (!r) return { text: 'no round exported yet' };
      return {
        text: `round of ${job.time(r.start_ms)}`,
        bad: r.incomplete ? `incomplete round: ${A.num(r.missing)} range(s) missing` : null
      };
    }
    const p = f.period;
    const since = p && p.start_ms !== null && p.start_ms !== undefined ? `since ${job.time(p.start_ms)}` : 'running totals';
    return {
      text: since,
      bad: p && p.rounds_incomplete ? `${A.num(p.rounds_incomplete)} incomplete round(s) in these totals` : null
    };
  }

  function renderCard(job, rep, data) {
    const st = cardState(job.name + '/' + rep.name);
    const card = el('section', { class: 'card view-' + rep.view, 'data-job': job.name, 'data-report': rep.name });
    st.redraw = () => {
      const fr = freshness(job, rep);
      card.classList.toggle('incomplete', !!fr.bad);
      card.replaceChildren(...[
        el('h3', null, rep.name, el('span', { class: 'scope' }, fr.text)),
        fr.bad ? el('p', { class: 'badge inc', 'data-incomplete': '' }, fr.bad) : null,
        data ? A.reportBody(rep, data, job, st, card) : el('p', { class: 'empty' }, 'not available: ' + (st.error || 'no data'))
      ].filter(Boolean));
      if (st.draw && card.isConnected) st.draw();
    };
    st.redraw();
    return card;
  }

  const ORDER = { totals: 0, timeseries: 1, top: 2, table: 3 };

  function renderJob(job, data) {
    const owned = job.reports.filter(r => r.owned).sort((a, b) => ORDER[a.view] - ORDER[b.view]);
    const others = job.reports.filter(r => !r.owned);
    const f = job.fresh || {};
    const meta = [job.timezone, `round ${A.ago(job.round_ms)}`, job.reset === 'never' ? 'totals never reset' : `reset every ${job.reset}`];
    if (f.lines !== undefined) meta.push(`${A.num(f.lines)} lines`, `${A.num(f.bad_lines)} rejected`);
    const sec = el('section', { class: 'job', 'data-job': job.name },
      el('h2', null, job.name, el('span', { class: 'meta' }, meta.join(' · ')),
        f.rounds_incomplete ? el('span', { class: 'badge inc' }, `${A.num(f.rounds_incomplete)} incomplete round(s)`) : null),
      el('div', { class: 'grid' }, owned.map(r => renderCard(job, r, data[job.name + '/' + r.name]))));
    if (others.length) {
      const masters = new Map((S.last.describe.masters || []).map(m => [m.name, m.url]));
      const byOwner = new Map();
      for (const r of others) byOwner.set(r.owner, (byOwner.get(r.owner) || []).concat(r.name));
      sec.append(el('p', { class: 'elsewhere' }, 'On other masters: ', [...byOwner].map(([m, names], i) => {
        const u = A.safeUrl(masters.get(m));
        return [i ? ' · ' : '', names.join(', '), ' on ', u ? el('a', { href: u + '/', 'data-master': m }, m) : m];
      })));
    }
    if (!owned.length) sec.append(el('p', { class: 'empty' }, 'This master owns no report of this job.'));
    return sec;
  }

  function header(d) {
    const nav = [];
    if (d.role === 'primary')
      for (const [v, label] of [['reports', 'Reports'], ['cluster', 'Cluster']])
        nav.push(el('a', { href: '#' + v, 'aria-current': S.view === v ? 'page' : null }, label));
    const when = S.last.inline
      ? `report of ${new Date(S.last.generated_ms).toLocaleString()}`
      : (S.error ? `connection lost: ${S.error}; retrying` : `live · updated ${new Date().toLocaleTimeString()}`);
    return el('header', { class: 'top' + (S.error ? ' offline' : '') },
      el('span', { class: 'brand' }, 'abbey'),
      el('span', { class: 'who' }, d.master ? `${d.master} · ${d.role}` : 'one-shot report'),
      el('nav', null, nav),
      el('span', { class: 'live', id: 'live' }, el('span', { class: 'pulse' }), when),
      S.last.inline ? null : el('a', { class: 'logout', href: '/logout' }, 'log out'));
  }

  function render() {
    const L = S.last, d = L.describe;
    for (const st of S.cards.values()) A.dropPlots(st);
    const main = el('main', null, S.view === 'cluster' && L.status ? A.clusterView(L.status, d)
      : d.jobs.map(j => renderJob(j, L.reports)));
    document.getElementById('app').replaceChildren(header(d), main);
    for (const st of S.cards.values()) if (st.draw) st.draw();
    document.body.dataset.updates = String(++S.updates);
  }

  /* Each job gets its time writer. */
  function prepare(d) {
    for (const j of d.jobs) j.time = A.timeIn(j.timezone, j.tz_offset_s);
    return d;
  }

  async function history(d) {
    for (const j of d.jobs)
      for (const r of j.reports) {
        const st = cardState(j.name + '/' + r.name);
        if (!r.owned || r.view !== 'timeseries' || st.historyTried) continue;
        st.historyTried = true;
        try {
          A.addHistory(r, await get(`/v1/history/${enc(j.name)}/${enc(r.name)}?last=${HISTORY_ROUNDS}`), st);
        } catch (e) { /* no history here (404): the page keeps what it sees from now on */ }
      }
  }

  async function poll() {
    let wait = 5000;
    try {
      const d = prepare(await get('/v1/dashboard'));
      wait = Math.min(60000, Math.max(1000, ...d.jobs.map(j => j.round_ms)));
      await history(d);
      const reports = {};
      const jobs = [];
      for (const j of d.jobs)
        for (const r of j.reports)
          if (r.owned) jobs.push(get(reportPath(j.name, r.name)).then(x => { reports[j.name + '/' + r.name] = x; },
            e => { cardState(j.name + '/' + r.name).error = e.message; }));
      const status = d.role === 'primary' ? get('/v1/status').catch(() => null) : null;
      await Promise.all(jobs);
      S.last = { describe: d, reports, status: await status };
      S.error = null;
    } catch (e) {
      S.error = e.message;
    }
    if (S.last) render();
    setTimeout(poll, wait);
  }

  window.addEventListener('hashchange', () => {
    S.view = location.hash === '#cluster' ? 'cluster' : 'reports';
    if (S.last) render();
  });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (S.last) render(); }, 200);
  });

  if (inline) {
    const data = JSON.parse(inline.textContent);
    S.last = { inline: true, describe: prepare(data.describe), reports: data.reports, generated_ms: data.generated_ms };
    render();
  } else {
    poll();
  }
})(abbey);
