// cutover dashboard: reads the admin API of the server that serves this
// page (status, history, fleet) and its two NDJSON streams (/v1/events,
// /v1/traffic), and renders every service. The same script renders a
// report: a page with a <script id="report-data"> holding the data.
"use strict";
(() => {
  const KEEP = 900; // seconds of traffic kept in the page
  const HISTORY_LIMIT = 500;
  const STEP_ORDER = ["start", "gate", "hook", "switch", "canary", "batch", "drain", "standby", "retire", "rollback", "undo"];
  const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"];

  const reportEl = document.getElementById("report-data");
  const report = reportEl ? JSON.parse(reportEl.textContent) : null;

  const state = {
    csrf: "",
    services: [], // statuses, in config order
    history: {}, // service → records, newest first
    historyLoaded: {}, // service → true once fetched
    sigs: {}, // service → its versions and operation at the last status
    historyRetries: {}, // service → {left, newest}: polls left to see a new record
    events: {}, // service → recent events
    samples: [], // {t, pts: {service: {version: point}}}, oldest first
    windows: {}, // service → {version: window}
    fleet: null,
    colors: {}, // service → {version: colour}
    chartSeconds: 300,
    showAll: {},
    msgs: {}, // service → {text, error}
    conn: { services: false, events: false, traffic: false },
    stopped: false,
    firstRenderMs: null,
    renders: 0,
  };

  // ---- helpers

  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (t) => { const d = new Date(t); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };
  const dateTime = (t) => { const d = new Date(t); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t)}`; };
  const when = (t) => (Date.now() - t < 20 * 3600e3 ? clock(t) : dateTime(t));
  function dur(ns) {
    const ms = ns / 1e6;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${pad(Math.round(s % 60))}s`;
    return `${Math.floor(m / 60)}h${pad(m % 60)}m`;
  }
  const num = (x, d = 1) => (x == null || Number.isNaN(x) ? "–" : Number(x).toFixed(d));
  const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`);
  const enc = encodeURIComponent;

  function colorOf(service, version) {
    const m = (state.colors[service] ||= {});
    if (!m[version]) m[version] = PALETTE[Object.keys(m).length % PALETTE.length];
    return m[version];
  }

  function stepsOf(rec) {
    const keys = Object.keys(rec.steps || {});
    keys.sort((a, b) => {
      const ia = STEP_ORDER.indexOf(a), ib = STEP_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    return keys.map((k) => [k, rec.steps[k]]);
  }

  // ---- admin API

  async function api(method, path, body) {
    const opt = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") {
      opt.headers["X-Cutover-CSRF"] = state.csrf;
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opt);
    const text = await r.text();
    let j = null;
    try { j = text ? JSON.parse(text) : null; } catch { j = null; }
    if (!r.ok) {
      const e = new Error((j && j.error && j.error.message) || `${r.status} ${r.statusText}`);
      e.status = r.status;
      throw e;
    }
    return j;
  }

  function loggedOut() {
    if (state.stopped) return;
    state.stopped = true;
    notice("Not logged in, or the session ended (the server restarted?). Run <code>cutover dashboard</code> for a new login link.");
    setConn();
  }

  function notice(html) {
    const n = document.getElementById("notice");
    n.innerHTML = html;
    n.hidden = false;
  }

  // stream reads an NDJSON endpoint, calling onLine per object, and
  // reconnects after a second when it ends.
  async function stream(path, name, onLine) {
    while (!state.stopped) {
      try {
        const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
        if (r.status === 401) { loggedOut(); return; }
        if (!r.ok) throw new Error(String(r.status));
        state.conn[name] = true;
        setConn();
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) onLine(JSON.parse(line));
          }
        }
      } catch (e) {
        // reconnect below
      }
      state.conn[name] = false;
      setConn();
      await sleep(1000);
    }
  }

  function setConn() {
    const el = document.getElementById("conn");
    if (!el || report) return;
    const c = state.conn;
    const live = c.services && c.events && c.traffic;
    el.className = "conn " + (state.stopped ? "down" : live ? "live" : "");
    el.textContent = state.stopped ? "logged out" : live ? "live" : "connecting…";
  }

  // ---- data

  function addSample(s) {
    const t = Date.parse(s.time);
    const last = state.samples.length ? state.samples[state.samples.length - 1].t : -Infinity;
    if (s.window != null) { // null on replayed seconds but the last
      const w = {};
      for (const x of s.window) (w[x.service] ||= {})[x.version] = x;
      state.windows = w;
    }
    if (t <= last) return; // replayed after a reconnect
    const pts = {};
    for (const p of s.points || []) (pts[p.service] ||= {})[p.version] = p;
    state.samples.push({ t, pts });
    if (state.samples.length > KEEP) state.samples.splice(0, state.samples.length - KEEP);
    scheduleRender();
  }

  function addEvent(e) {
    const l = (state.events[e.service] ||= []);
    l.push(e);
    if (l.length > 60) l.splice(0, l.length - 60);
    refreshStatusSoon();
    if (e.type === "done") loadHistory(e.service);
    scheduleRender();
  }

  let statusTimer = null;
  function refreshStatusSoon() {
    if (statusTimer) return;
    statusTimer = setTimeout(() => { statusTimer = null; loadStatus(); }, 150);
  }

  async function loadStatus() {
    try {
      const j = await api("GET", "/v1/services");
      state.services = j.services || [];
      state.conn.services = true;
      for (const s of state.services) {
        // Reload the history when the service changed, also by an
        // operation another host of a fleet ran (no event reaches this one).
        // The record may be written a moment after the change shows (by
        // the host that ran it): fetch again on the next few polls until
        // a new record comes.
        const sig = [s.active?.version, s.standby?.version, s.candidate?.version, s.op?.id].join("|");
        if (state.historyLoaded[s.name] && state.sigs[s.name] !== sig) {
          state.historyRetries[s.name] = { left: 4, newest: state.history[s.name]?.[0]?.id };
        }
        state.sigs[s.name] = sig;
        const r = state.historyRetries[s.name];
        if (r && state.history[s.name]?.[0]?.id !== r.newest) delete state.historyRetries[s.name];
        else if (r && r.left-- > 0) loadHistory(s.name);
        else if (r) delete state.historyRetries[s.name];
        if (!state.historyLoaded[s.name]) loadHistory(s.name);
      }
    } catch (e) {
      if (e.status === 401) return loggedOut();
      state.conn.services = false;
    }
    setConn();
    scheduleRender();
  }

  async function loadHistory(name) {
    try {
      const j = await api("GET", `/v1/services/${enc(name)}/history?limit=${HISTORY_LIMIT}`);
      state.history[name] = j.records || [];
    } catch (e) {
      if (e.status === 401) return loggedOut();
      state.history[name] = state.history[name] || [];
    }
    state.historyLoaded[name] = true;
    scheduleRender();
  }

  async function loadFleet() {
    try { state.fleet = await api("GET", "/v1/fleet"); } catch { state.fleet = null; }
    scheduleRender();
  }

  // ---- rendering

  let pending = false;
  function scheduleRender() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; renderAll(); });
  }

  // set replaces el's content only when it changed, so that a render that
  // changes nothing costs no layout.
  function set(el, html) {
    if (el._html !== html) { el._html = html; el.innerHTML = html; }
  }

  function card(name) {
    const id = "svc-" + name;
    let el = document.getElementById(id);
    if (!el) {
      el = document.createElement("section");
      el.id = id;
      el.className = "card";
      el.dataset.service = name;
      el.innerHTML = ["head", "rels", "op", "traffic", "canary", "chart", "actions", "msg", "timeline"]
        .map((p) => `<div class="part-${p}${p === "msg" ? " msg" : ""}"></div>`).join("");
      document.getElementById("services").appendChild(el);
    }
    return el;
  }

  function renderAll() {
    const t0 = performance.now();
    const main = document.getElementById("services");
    if (!state.services.length) {
      if (state.conn.services || report) set(main, '<p class="muted">No services configured.</p>');
      return;
    }
    if (main._html !== undefined) { main.innerHTML = ""; main._html = undefined; }
    for (const s of state.services) renderService(s);
    for (const el of [...main.children]) {
      if (!state.services.some((s) => "svc-" + s.name === el.id)) el.remove();
    }
    renderFleet();
    state.renders++;
    const ready = state.services.every((s) => state.historyLoaded[s.name]);
    if (ready && state.firstRenderMs == null) {
      state.firstRenderMs = performance.now();
      document.body.dataset.ready = "1";
    }
    state.lastRenderMs = performance.now() - t0;
  }

  function renderService(s) {
    const el = card(s.name);
    const q = (p) => el.querySelector(".part-" + p);
    set(q("head"), headHTML(s));
    set(q("rels"), relsHTML(s));
    set(q("op"), opHTML(s));
    set(q("traffic"), trafficHTML(s));
    set(q("canary"), canaryHTML(s));
    set(q("chart"), chartHTML(s));
    set(q("actions"), report ? "" : actionsHTML(s));
    const m = state.msgs[s.name];
    set(q("msg"), m ? `<span class="${m.error ? "error" : ""}">${esc(m.text)}</span>` : "");
    set(q("timeline"), timelineHTML(s.name));
  }

  function headHTML(s) {
    const live = s.active ? s.active.version : "none";
    let sub = `${esc(s.strategy)} · ${esc(s.runtime)}`;
    if (s.error) sub += ` · <span class="error">${esc(s.error)}</span>`;
    return `<h2>${esc(s.name)} <span class="sub">live <b class="live-version">${esc(live)}</b> · ${sub}</span></h2>`;
  }

  function instancesHTML(rel) {
    return (rel.instances || []).map((i) =>
      `<li class="${i.healthy ? "ok" : "bad"}" title="${esc(i.addr)}"><span class="dot"></span>${esc(i.id)} ` +
      `<span class="muted">${esc(i.addr)} · ${i.healthy ? "healthy" : "unhealthy"} · ${i.in_flight || 0} in flight</span></li>`).join("");
  }

  function relHTML(role, cls, rel, extra) {
    return `<div class="rel ${cls}" data-role="${cls}" data-version="${esc(rel.version)}"><div class="role">${role}</div>` +
      `<div class="ver">${esc(rel.version)}</div><div class="muted">${extra}</div><ul>${instancesHTML(rel)}</ul></div>`;
  }

  function relsHTML(s) {
    const out = [];
    const w = s.candidate ? s.weight || 0 : 0;
    if (s.active) out.push(relHTML("live", "live", s.active, `${num(100 - w, 0)}% of traffic · since ${when(Date.parse(s.active.since))}`));
    if (s.candidate) out.push(relHTML("canary", "canary", s.candidate, `${num(w, 0)}% of traffic`));
    if (s.standby) {
      const until = s.standby_until ? ` · until ${clock(Date.parse(s.standby_until))}` : "";
      out.push(relHTML("standby", "standby", s.standby, `warm, no traffic${until}`));
    }
    for (const r of s.retiring || []) out.push(relHTML("retiring", "retiring", r, esc(r.reason || "draining")));
    const hosts = hostsHTML(s.name);
    if (!out.length) return `<p class="muted">Never deployed.</p>${hosts}`;
    return `<div class="rels">${out.join("")}</div>${hosts}`;
  }

  function hostsHTML(name) {
    const f = state.fleet;
    if (!f || !f.hosts || f.hosts.length < 2) return "";
    const cells = f.hosts.map((h) => {
      const a = h.services && h.services[name];
      return `<span class="${h.ready ? "ok" : "bad"}"><span class="dot"></span>${esc(h.name)}: ${esc(a ? a.version : "–")}</span>`;
    });
    return `<div class="legend">hosts ${cells.join(" ")}</div>`;
  }

  function opHTML(s) {
    const op = s.op;
    if (!op) return "";
    const started = Date.parse(op.started_at);
    let line = `<b>${esc(op.kind)} ${esc(op.version)}</b>${op.from ? ` from ${esc(op.from)}` : ""} · ${esc(op.phase)}`;
    if (op.phase === "canary") line += ` · weight ${num(op.weight, 0)}% · step ${op.step || 0}`;
    if (op.paused) line += " · <b>paused</b>";
    if (started) line += ` · running ${dur((Date.now() - started) * 1e6)}`;
    const evs = (state.events[s.name] || []).filter((e) => e.op_id === op.id).slice(-8);
    const items = evs.map((e) => `<li class="${e.type === "warn" ? "warn" : ""}">${dur(e.elapsed || 0)} <b>${esc(e.step)}</b> ${esc(e.message)}</li>`);
    return `<div class="op" data-op="${esc(op.id)}">${line}${items.length ? `<ol>${items.join("")}</ol>` : ""}</div>`;
  }

  function versionsOf(s) {
    const vs = [];
    const add = (v) => { if (v && !vs.includes(v)) vs.push(v); };
    if (s.active) add(s.active.version);
    if (s.candidate) add(s.candidate.version);
    if (s.standby) add(s.standby.version);
    for (const r of s.retiring || []) add(r.version);
    for (const v of Object.keys(state.windows[s.name] || {})) add(v);
    return vs;
  }

  function trafficHTML(s) {
    const ws = state.windows[s.name] || {};
    const vs = versionsOf(s);
    if (!vs.length) return "";
    const role = (v) => (s.candidate && s.candidate.version === v ? "canary" : s.active && s.active.version === v ? "live"
      : s.standby && s.standby.version === v ? "standby" : "retiring");
    const rows = vs.map((v) => {
      const w = ws[v] || {};
      return `<tr data-version="${esc(v)}"><td><span class="swatch" style="background:${colorOf(s.name, v)}"></span>${esc(v)}</td>` +
        `<td>${role(v)}</td><td class="num rps">${num(w.rps)}</td><td class="num">${pct(w.requests ? w.error_rate : null)}</td>` +
        `<td class="num">${w.requests ? num(w.p50_ms, 2) : "–"}</td><td class="num">${w.requests ? num(w.p99_ms, 2) : "–"}</td>` +
        `<td class="num">${w.in_flight || 0}</td></tr>`;
    });
    const secs = Object.values(ws)[0]?.seconds || 10;
    return `<h3>Traffic (last ${secs} s)</h3><table class="traffic"><tr><th>version</th><th>role</th><th class="num">req/s</th>` +
      `<th class="num">errors</th><th class="num">p50 ms</th><th class="num">p99 ms</th><th class="num">in flight</th></tr>${rows.join("")}</table>`;
  }

  function canaryHTML(s) {
    const c = s.canary;
    if (!c) return "";
    const enough = c.verdict !== "wait";
    const rows = Object.entries(c.summary || {}).map(([v, m]) =>
      `<tr><td>${esc(v)}</td><td class="num">${m.requests ?? "–"}</td><td class="num">${pct(m.error_rate)}</td>` +
      `<td class="num">${num(m.p50_ms, 2)}</td><td class="num">${num(m.p99_ms, 2)}</td></tr>`);
    return `<h3>Canary analysis</h3><p><span class="verdict ${esc(c.verdict)}">${esc(c.verdict)}</span> ` +
      `<span class="enough">${enough ? "enough data" : "not enough data yet"}</span> · ${esc(c.reason)}</p>` +
      (rows.length ? `<table><tr><th>version</th><th class="num">requests</th><th class="num">errors</th><th class="num">p50 ms</th>` +
        `<th class="num">p99 ms</th></tr>${rows.join("")}</table>` : "");
  }

  // crossovers returns the moments the version serving most requests
  // changed: the new leader must serve a fifth more than the old one for
  // two seconds in a row (so a canary near 50% does not flicker).
  function crossovers(name, samples) {
    const out = [];
    let leader = null, held = 0, heldBy = null;
    for (let i = 0; i < samples.length; i++) {
      const pts = samples[i].pts[name] || {};
      let best = null, bestN = 0;
      for (const [v, p] of Object.entries(pts)) if (p.requests > bestN) { best = v; bestN = p.requests; }
      if (!best) continue;
      if (leader === null) { leader = best; continue; }
      const old = pts[leader] ? pts[leader].requests : 0;
      if (best === leader || bestN < old * 1.2) { held = 0; heldBy = null; continue; }
      if (best === heldBy) held++; else { heldBy = best; held = 1; }
      if (held >= 2) {
        out.push({ t: samples[i - 1].t, from: leader, to: best });
        leader = best; held = 0; heldBy = null;
      }
    }
    return out;
  }

  // niceCeil rounds n up to 1, 2 or 5 times a power of ten.
  function niceCeil(n) {
    const p = Math.pow(10, Math.floor(Math.log10(n)));
    for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
    return 10 * p;
  }

  function chartHTML(s) {
    const W = 640, H = 150, L = 44, R = 8, T = 10, B = 18;
    const all = state.samples;
    const now = all.length ? all[all.length - 1].t : Date.now();
    const span = report ? Math.max(10e3, now - (all.length ? all[0].t : now)) : state.chartSeconds * 1000;
    const from = now - span;
    const samples = all.filter((x) => x.t >= from);
    const vs = versionsOf(s);
    for (const x of samples) for (const v of Object.keys(x.pts[s.name] || {})) if (!vs.includes(v)) vs.push(v);
    let peak = 0;
    for (const x of samples) for (const p of Object.values(x.pts[s.name] || {})) peak = Math.max(peak, p.requests);
    const max = niceCeil(Math.max(peak, 2));
    const X = (t) => L + ((t - from) / span) * (W - L - R);
    const Y = (n) => T + (1 - n / max) * (H - T - B);
    const lines = vs.map((v) => {
      const pts = samples.map((x) => `${X(x.t).toFixed(1)},${Y(x.pts[s.name]?.[v]?.requests || 0).toFixed(1)}`);
      return pts.length ? `<polyline data-version="${esc(v)}" fill="none" stroke="${colorOf(s.name, v)}" stroke-width="2" points="${pts.join(" ")}"/>` : "";
    });
    const cross = crossovers(s.name, samples);
    const marks = cross.map((c) => `<line class="cross" x1="${X(c.t).toFixed(1)}" x2="${X(c.t).toFixed(1)}" y1="${T}" y2="${H - B}"/>` +
      `<text class="cross-label" x="${(X(c.t) + 3).toFixed(1)}" y="${T + 10}">${esc(c.to)}</text>`);
    const grid = [0, 0.5, 1].map((f) => `<line class="grid" x1="${L}" x2="${W - R}" y1="${Y(max * f)}" y2="${Y(max * f)}"/>` +
      `<text x="${L - 4}" y="${Y(max * f) + 3}" text-anchor="end">${Math.round(max * f)}</text>`);
    const ticks = [0, 0.5, 1].map((f) => `<text x="${X(from + span * f)}" y="${H - 4}" text-anchor="${f === 0 ? "start" : f === 1 ? "end" : "middle"}">` +
      `${f === 1 ? (report ? clock(now) : "now") : clock(from + span * f)}</text>`);
    const legend = vs.map((v) => `<span><span class="swatch" style="background:${colorOf(s.name, v)}"></span>${esc(v)}</span>`);
    const crossText = cross.length
      ? cross.map((c) => `${esc(c.from)} → ${esc(c.to)} at ${clock(c.t)}`).join(" · ")
      : "no switch in this window";
    return `<h3>Requests per second by version</h3><svg class="chart" viewBox="0 0 ${W} ${H}" data-samples="${samples.length}" ` +
      `data-crossovers="${cross.length}" role="img" aria-label="requests per second of ${esc(s.name)} by version">` +
      `${grid.join("")}${ticks.join("")}${lines.join("")}${marks.join("")}</svg>` +
      `<div class="legend">${legend.join("")}</div><div class="crossovers" data-count="${cross.length}">switches: ${crossText}</div>`;
  }

  function actionsHTML(s) {
    const op = s.op;
    const name = esc(s.name);
    const btn = (act, label, ok, danger) =>
      `<button type="button" data-action="${act}" data-service="${name}"${ok ? "" : " disabled"}${danger ? ' class="danger"' : ""}>${label}</button>`;
    return `<div class="actions">` +
      btn("promote", "Promote", !!op || !!s.standby) +
      btn("pause", "Pause", !!op && op.phase === "canary" && !op.paused) +
      btn("resume", "Resume", !!op && !!op.paused) +
      btn("abort", "Abort", !!op, true) +
      btn("rollback", "Roll back", !op && !!s.active, true) +
      `</div>`;
  }

  function timelineHTML(name) {
    const recs = state.history[name];
    if (!recs) return "<h3>History</h3><p class=\"muted\">Loading…</p>";
    if (!recs.length) return "<h3>History</h3><p class=\"muted\">No finished operations yet.</p>";
    const W = 640, H = 34, L = 4, R = 4;
    const now = report ? Date.parse(recs[0].end) + 1000 : Date.now();
    const oldest = Date.parse(recs[recs.length - 1].start);
    const from = Math.min(oldest, now - (report ? 10e3 : 3600e3));
    const span = now - from;
    const X = (t) => L + ((t - from) / span) * (W - L - R);
    const bars = [];
    for (const r of recs) {
      const a = Date.parse(r.start), b = Date.parse(r.end);
      const x = X(a), w = Math.max(2, X(b) - x);
      bars.push(`<rect class="${esc(r.outcome)}" x="${x.toFixed(1)}" y="4" width="${w.toFixed(1)}" height="16">` +
        `<title>${esc(`${r.kind} ${r.version}${r.from ? ` from ${r.from}` : ""}: ${r.outcome} in ${dur((b - a) * 1e6)}${r.reason ? ` (${r.reason})` : ""}`)}</title></rect>`);
    }
    const axis = `<text x="${L}" y="${H - 2}">${esc(when(from))}</text><text x="${W - R}" y="${H - 2}" text-anchor="end">${report ? esc(clock(now)) : "now"}</text>`;
    const all = state.showAll[name];
    const shown = all ? recs : recs.slice(0, 6);
    const rows = shown.map((r) => {
      const a = Date.parse(r.start), b = Date.parse(r.end);
      const total = Math.max(1, b - a);
      const steps = stepsOf(r).map(([k, ns]) => {
        const share = Math.max(0.5, (ns / 1e6 / total) * 100);
        return `<span style="flex:${share.toFixed(2)}" title="${esc(k)} ${dur(ns)}">${esc(k)} ${dur(ns)}</span>`;
      });
      return `<tr class="rec" data-kind="${esc(r.kind)}" data-outcome="${esc(r.outcome)}" data-version="${esc(r.version)}">` +
        `<td>${esc(when(a))}</td><td>${esc(r.kind)}</td><td>${r.from ? esc(r.from) + " → " : ""}<b>${esc(r.version)}</b></td>` +
        `<td><span class="badge ${esc(r.outcome)}">${esc(String(r.outcome).replace("_", " "))}</span></td>` +
        `<td class="num">${dur((b - a) * 1e6)}</td><td><div class="steps">${steps.join("")}</div></td>` +
        `<td>${esc(r.reason || "")}${r.hosts && r.hosts.length ? ` <span class="muted">hosts ${esc(r.hosts.join(", "))}</span>` : ""}</td></tr>`;
    });
    const more = recs.length > 6 && !report
      ? `<button type="button" data-action="toggle-history" data-service="${esc(name)}">${all ? "Show fewer" : `Show all ${recs.length}`}</button>` : "";
    return `<h3>History (${recs.length})</h3><svg class="timeline" viewBox="0 0 ${W} ${H}" data-bars="${recs.length}">${bars.join("")}${axis}</svg>` +
      `<table class="history"><tr><th>started</th><th>kind</th><th>version</th><th>outcome</th><th class="num">took</th>` +
      `<th>steps</th><th>reason</th></tr>${rows.join("")}</table>${more}`;
  }

  function renderFleet() {
    const el = document.getElementById("fleet");
    if (!el) return;
    const f = state.fleet;
    if (!f || !f.hosts || f.hosts.length < 2) { el.hidden = true; return; }
    el.hidden = false;
    const svcs = state.services.map((s) => s.name);
    const rows = f.hosts.map((h) => `<tr class="${h.ready ? "ok" : "bad"}"><td><span class="dot"></span>${esc(h.name)}</td>` +
      `<td>${h.ready ? "ready" : "not ready"}${h.lost ? " · lost" : ""}</td><td>${esc(h.reason || "")}</td>` +
      svcs.map((n) => `<td>${esc(h.services?.[n]?.version || "–")}</td>`).join("") + "</tr>");
    set(el, `<div class="card"><h2>Fleet <span class="sub">${f.hosts.length} hosts · revision ${f.revision}${f.synced ? "" : " · not synced"}</span></h2>` +
      `<table><tr><th>host</th><th>state</th><th>reason</th>${svcs.map((n) => `<th>${esc(n)}</th>`).join("")}</tr>${rows.join("")}</table></div>`);
  }

  // ---- actions

  const ACTIONS = {
    promote: (s) => [`Promote ${s.name}${s.op ? ` to ${s.op.version} now` : ": end the standby window now"}?`, "promote"],
    pause: (s) => [`Pause the canary of ${s.name} at its current weight?`, "pause"],
    resume: (s) => [`Resume the canary of ${s.name}?`, "resume"],
    abort: (s) => [`Abort the ${s.op ? s.op.kind : "operation"} of ${s.name}? Traffic goes back to where it was.`, "abort"],
    rollback: (s) => [`Roll back ${s.name} from ${s.active ? s.active.version : "?"} to ${s.standby ? s.standby.version : "the previous version"}?`, "rollback"],
  };

  function confirmAction(text) {
    const dlg = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      const ok = document.getElementById("confirm-ok"), cancel = document.getElementById("confirm-cancel");
      const done = (v) => { ok.onclick = cancel.onclick = dlg.oncancel = null; dlg.close(); resolve(v); };
      ok.onclick = () => done(true);
      cancel.onclick = () => done(false);
      dlg.oncancel = () => done(false);
      dlg.showModal();
      cancel.focus();
    });
  }

  async function onClick(ev) {
    const b = ev.target.closest("button[data-action]");
    if (!b || b.disabled) return;
    const name = b.dataset.service, act = b.dataset.action;
    if (act === "toggle-history") { state.showAll[name] = !state.showAll[name]; scheduleRender(); return; }
    const s = state.services.find((x) => x.name === name);
    if (!s || !ACTIONS[act]) return;
    const [text, path] = ACTIONS[act](s);
    if (!(await confirmAction(text))) return;
    state.msgs[name] = { text: `${act}: sending…` };
    scheduleRender();
    try {
      const r = await api("POST", `/v1/services/${enc(name)}/${path}`, {});
      state.msgs[name] = { text: `${act}: ${r && r.op_id ? `started (${r.op_id})` : "done"}` };
    } catch (e) {
      state.msgs[name] = { text: `${act} failed: ${e.message}`, error: true };
    }
    loadStatus();
  }

  // ---- start

  window.cutoverDashboard = { state, renderAll, crossovers };

  if (report) {
    document.body.classList.add("report");
    state.services = report.services.map((s) => s.status);
    for (const s of report.services) {
      state.history[s.status.name] = s.history || [];
      state.historyLoaded[s.status.name] = true;
      state.events[s.status.name] = s.events || [];
    }
    for (const x of report.samples || []) addSample(x);
    renderAll();
    return;
  }

  document.addEventListener("click", onClick);
  document.getElementById("chart-range").addEventListener("change", (e) => {
    state.chartSeconds = Number(e.target.value) || 300;
    scheduleRender();
  });
  (async () => {
    try {
      const j = await api("GET", "/ui/session");
      state.csrf = j.csrf || "";
    } catch (e) {
      if (e.status === 401) return loggedOut();
    }
    loadStatus();
    loadFleet();
    stream("/v1/events", "events", addEvent);
    stream(`/v1/traffic?history=${KEEP}`, "traffic", addSample);
    setInterval(() => { if (!state.stopped) loadStatus(); }, 2000);
    setInterval(() => { if (!state.stopped) loadFleet(); }, 5000);
    setInterval(() => { if (!state.stopped) scheduleRender(); }, 1000);
  })();
})();
