/* views.js - one report drawn as its view: a sortable table, big figures (one-row
 * totals), bars (top-N) or time-series charts (time_bucket keys, with uPlot).
 *
 * A report is the JSON of GET /v1/reports/{job}/{report}?format=json:
 * {columns: [...], rows: [{column: value}]}; its description (columns' kinds,
 * view, order) comes from GET /v1/dashboard. Cells are text nodes only. */
'use strict';

(function (A) {
  const el = A.el;
  const ROWS_SHOWN = 25; /* a table shows this many rows until asked for all */

  /* The text of cell value v of column c (a description column). */
  function cellText(c, v, job) {
    if (v === null || v === undefined) return '–';
    if (c.type === 'time') {
      const ms = A.parseTime(v);
      return Number.isFinite(ms) ? job.time(ms) : String(v);
    }
    if (!c.key || c.type === 'number') return typeof v === 'number' ? A.num(v) : String(v);
    return String(v);
  }

  function sortValue(c, v) {
    if (v === null || v === undefined) return null;
    if (c.type === 'time') return A.parseTime(v);
    if (typeof v === 'number') return v;
    if (!c.key || c.type === 'number') { const x = Number(v); return Number.isFinite(x) ? x : String(v); }
    return String(v);
  }

  function compare(a, b) {
    if (a === null) return b === null ? 0 : 1; /* nulls last either way */
    if (b === null) return -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b));
  }

  /* The table of rows (in the report's order unless st.sort says otherwise). */
  function table(rep, data, job, st) {
    const cols = rep.columns;
    let rows = data.rows.slice();
    if (st.sort) {
      const c = cols.find(x => x.name === st.sort.col);
      if (c) {
        const dir = st.sort.desc ? -1 : 1;
        rows = rows.map((r, i) => [r, i]).sort((x, y) => {
          const k = compare(sortValue(c, x[0][c.name]), sortValue(c, y[0][c.name]));
          return k ? (k * dir) : x[1] - y[1];
        }).map(x => x[0]);
      }
    }
    const head = el('tr', null, cols.map(c => {
      const sorted = st.sort && st.sort.col === c.name;
      const aria = sorted ? (st.sort.desc ? 'descending' : 'ascending') : 'none';
      const label = c.name + (c.type === 'time' ? ` (${job.timezone})` : '');
      return el('th', { class: c.key ? 'k' : 'n', 'aria-sort': aria, scope: 'col' },
        el('button', {
          type: 'button', title: 'sort by ' + c.name,
          onclick: () => {
            st.sort = { col: c.name, desc: sorted ? !st.sort.desc : !c.key };
            st.redraw();
          }
        }, label));
    }));
    const shown = st.all ? rows : rows.slice(0, ROWS_SHOWN);
    const body = el('tbody', null, shown.map(r => el('tr', null, cols.map(c =>
      el('td', { class: c.key ? 'k' : 'n', 'data-col': c.name },
        cellText(c, r[c.name], job))))));
    const t = el('table', { class: 'rt', 'data-rows': rows.length }, el('thead', null, head), body);
    const wrap = el('div', { class: 'tablewrap' }, t);
    if (rows.length > ROWS_SHOWN)
      wrap.append(el('button', {
        type: 'button', class: 'more',
        onclick: () => { st.all = !st.all; st.redraw(); }
      }, st.all ? `show the first ${ROWS_SHOWN}` : `show all ${A.num(rows.length)} rows`));
    if (!rows.length) wrap.append(el('p', { class: 'empty' }, 'no rows yet'));
    return wrap;
  }

  /* One-row totals as big figures. */
  function figures(rep, data) {
    const row = data.rows[0] || {};
    return el('div', { class: 'figs' }, rep.columns.map(c => el('div', { class: 'fig', 'data-col': c.name },
      el('div', { class: 'fig-v' }, A.num(row[c.name])),
      el('div', { class: 'fig-l' }, c.name + (c.agg && c.agg !== 'count' && c.agg !== 'sum' ? ' · ' + c.agg : '')))));
  }

  /* Top-N: one bar per row, on the report's order column. */
  function bars(rep, data, job) {
    const keys = rep.columns.filter(c => c.key);
    const ord = rep.columns.find(c => c.name === rep.order) || rep.columns.find(c => !c.key);
    const vals = data.rows.map(r => Number(r[ord.name]) || 0);
    const max = Math.max(1, ...vals.map(Math.abs));
    const list = el('ol', { class: 'bars', 'data-col': ord.name }, data.rows.map((r, i) => {
      const label = keys.map(c => cellText(c, r[c.name], job)).join(' · ');
      const fill = el('span', { class: 'fill' });
      fill.style.width = (100 * Math.abs(vals[i]) / max).toFixed(2) + '%';
      return el('li', null, el('span', { class: 'bl', title: label }, label),
        el('span', { class: 'bt' }, fill), el('span', { class: 'bv' }, A.num(r[ord.name])));
    }));
    return el('div', null, el('div', { class: 'sub' }, `${ord.name}, ${rep.desc ? 'highest' : 'lowest'} first`), list);
  }

  /* The points of a time series: the kept past (history, earlier polls) under
   * the report's current rows, by bucket time. */
  function series(rep, data, st) {
    const t = rep.columns.find(c => c.key);
    st.points = st.points || new Map();
    st.live = st.live || new Set();
    for (const r of data.rows) {
      const ms = A.parseTime(r[t.name]);
      if (Number.isFinite(ms)) { st.points.set(ms, r); st.live.add(ms); }
    }
    const xs = [...st.points.keys()].sort((a, b) => a - b).slice(-2000);
    return { t, xs, rows: xs.map(x => st.points.get(x)) };
  }

  const palette = ['#5aa9e6', '#7fc8a9', '#f2b263', '#e07a8b', '#b39ddb', '#4dd0e1'];

  function axisColors() {
    const light = window.matchMedia && matchMedia('(prefers-color-scheme: light)').matches;
    return light ? { text: '#445', grid: 'rgba(0,0,0,0.08)' } : { text: '#aab3c5', grid: 'rgba(255,255,255,0.07)' };
  }

  /* Time series: one small chart per value column, over the bucket times. */
  function charts(rep, data, job, st, card) {
    const s = series(rep, data, st);
    const vcols = rep.columns.filter(c => !c.key);
    const box = el('div', { class: 'charts', 'data-points': s.xs.length });
    const ax = axisColors();
    A.dropPlots(st);
    vcols.forEach((c, i) => {
      const cell = el('div', { class: 'chart' }, el('div', { class: 'chart-l' }, c.name,
        el('span', { class: 'chart-last' }, s.rows.length ? A.num(s.rows[s.rows.length - 1][c.name]) : '–')));
      box.append(cell);
      if (typeof uPlot !== 'function') return;
      const x = s.xs.map(ms => ms / 1000);
      const y = s.rows.map(r => r[c.name] === null || r[c.name] === undefined ? null : Number(r[c.name]));
      const opts = {
        width: 300, height: 150, legend: { show: false }, cursor: { y: false },
        tzDate: job.time.zone ? (ts => uPlot.tzDate(new Date(ts * 1e3), job.time.zone))
          : (ts => uPlot.tzDate(new Date(ts * 1e3 + job.time.shift), 'UTC')),
        scales: { x: { time: true } },
        axes: [
          { stroke: ax.text, grid: { stroke: ax.grid }, ticks: { stroke: ax.grid } },
          { stroke: ax.text, grid: { stroke: ax.grid }, ticks: { stroke: ax.grid }, size: 56, values: (u, v) => v.map(A.compact) }
        ],
        series: [{}, { label: c.name, stroke: palette[i % palette.length], width: 2,
          fill: palette[i % palette.length] + '22', points: { show: x.length < 40 } }]
      };
      st.plots.push({ cell, opts, data: [x, y] });
    });
    /* drawn once the card is in the page (its width is known then) */
    st.draw = () => {
      for (const p of st.plots) {
        if (p.plot || !p.cell.isConnected) continue;
        p.opts.width = Math.max(160, p.cell.clientWidth - 4);
        p.plot = new uPlot(p.opts, p.data, p.cell);
      }
    };
    const tbl = el('details', { class: 'astable' }, el('summary', null, 'as a table'), table(rep, data, job, st));
    if (st.open) tbl.open = true;
    tbl.addEventListener('toggle', () => { st.open = tbl.open; });
    return el('div', null, box, tbl);
  }

  /* Destroy a card's charts (uPlot keeps window listeners until then). */
  A.dropPlots = function (st) {
    for (const p of st.plots || []) if (p.plot) p.plot.destroy();
    st.plots = [];
  };

  /* The body of report rep's card, from its data; st keeps the card's state
   * (sort, points, open parts) across updates. */
  A.reportBody = function (rep, data, job, st, card) {
    switch (rep.view) {
      case 'totals': return figures(rep, data);
      case 'timeseries': return charts(rep, data, job, st, card);
      case 'top': {
        const tbl = el('details', { class: 'astable' }, el('summary', null, 'as a table'), table(rep, data, job, st));
        if (st.open) tbl.open = true;
        tbl.addEventListener('toggle', () => { st.open = tbl.open; });
        return el('div', null, bars(rep, data, job), tbl);
      }
      default: return table(rep, data, job, st);
    }
  };

  /* Add the past of a time series (GET /v1/history's rounds, oldest first:
   * the newest round holding a bucket gives its figures). */
  A.addHistory = function (rep, hist, st) {
    const t = rep.columns.find(c => c.key);
    const ti = hist.columns.indexOf(t.name);
    if (ti < 0) return;
    st.points = st.points || new Map();
    st.live = st.live || new Set();
    for (const round of hist.rounds || [])
      for (const row of round.rows || []) {
        const ms = A.parseTime(row[ti]);
        if (!Number.isFinite(ms) || st.live.has(ms)) continue; /* what the page saw wins */
        const o = {};
        hist.columns.forEach((name, k) => { o[name] = row[k]; });
        st.points.set(ms, o);
      }
  };
})(abbey);
