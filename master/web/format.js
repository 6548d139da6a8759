/* format.js - how the dashboard writes figures and times, and how it builds DOM.
 *
 * Every text that comes from a report (keys come from log lines: hostile) goes
 * into the page as a text node: el() never parses HTML. Numbers get the
 * browser locale's thousands separators; times are shown in the job's zone. */
'use strict';
var abbey = window.abbey || (window.abbey = {});

(function (A) {
  const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const dec = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const small = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });

  /* el('td', {class: 'n', title: 'x'}, child...): children are nodes or text. */
  A.el = function (tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  };

  /* A figure: integers grouped, fractions to 2 places (3 significant digits below 1). */
  A.num = function (v) {
    if (v === null || v === undefined || v === '') return '–';
    const x = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(x)) return String(v);
    if (Number.isInteger(x)) return int.format(x);
    return Math.abs(x) < 1 ? small.format(x) : dec.format(x);
  };

  /* A chart axis label: 1.2K, 3.4M. */
  const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
  A.compact = function (v) {
    return v === null || v === undefined ? '' : compact.format(v);
  };

  /* Bytes as the unit an operator reads at a glance (1,024-based). */
  A.bytes = function (v) {
    if (v === null || v === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let x = Number(v), u = 0;
    while (Math.abs(x) >= 1024 && u < units.length - 1) { x /= 1024; u++; }
    return (u ? dec.format(x) : int.format(x)) + ' ' + units[u];
  };

  /* A duration in ms as "3 s", "4 min", "2 h". */
  A.ago = function (ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    if (s < 172800) return Math.round(s / 3600) + ' h';
    return Math.round(s / 86400) + ' d';
  };

  /* A zone that Intl knows, or null. */
  function intlZone(tz) {
    try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return tz; } catch (e) { return null; }
  }

  /* A time writer for a job's zone: f(epoch ms) -> "2025-11-21 11:00:00".
   * A fixed offset Intl does not know (+05:30) is applied by hand. */
  A.timeIn = function (tz, offsetS) {
    const zone = intlZone(tz || 'UTC') || (offsetS === undefined ? 'UTC' : null);
    const shift = zone ? 0 : offsetS * 1000;
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone || 'UTC', hourCycle: 'h23', year: 'numeric', month: '2-digit',
      day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'
    });
    const fn = function (ms) {
      const p = {};
      for (const x of f.formatToParts(new Date(ms + shift))) p[x.type] = x.value;
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    };
    fn.zone = zone;
    fn.shift = shift;
    return fn;
  };

  /* An ISO time from a report ("2025-11-21T10:00:00Z") in ms, or NaN. */
  A.parseTime = function (v) {
    return typeof v === 'string' ? Date.parse(v) : NaN;
  };

  /* A URL fit for a link: http(s) only. */
  A.safeUrl = function (u) {
    return typeof u === 'string' && /^https?:\/\/[^\s"<>]+$/i.test(u) ? u.replace(/\/+$/, '') : null;
  };
})(abbey);
