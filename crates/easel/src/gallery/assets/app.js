// The gallery page (issue 15; routes and JSON: docs/GALLERY.md): a newest-first grid of easel's
// jobs, kept live by /gallery/events. Vanilla JS, no build step. The page's CSP allows only this
// file and app.css, so styles change through classes or the CSSOM, never a style attribute, and
// every bit of server text goes into the DOM as text, never as HTML.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const grid = $('#grid');
  const more = $('#more');
  const viewer = $('#viewer');
  const publishDialog = $('#publish');
  const filterForm = $('#filters');
  const ACTIVE = new Set(['queued', 'running']);
  const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

  const state = {
    csrf: '',
    next: null,
    loading: false,
    gen: 0, // bumped on every reload of the list, so an older answer is dropped
    filters: {},
    cards: new Map(), // job id -> {job, el}
    full: new Map(), // job id -> the job in full (/gallery/api/jobs/{id}), cleared on change
    selected: new Map(), // "id/index" -> {job_id, index, thumb, alt}
    view: null, // {id, index} while the viewer is open
    retry: 1000, // event-stream reconnect delay, doubled up to 30 s
  };

  // ------------------------------------------------------------------ helpers

  /** An element; attributes are set as attributes (never `style`), children as nodes or text. */
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  function button(action, label, attrs) {
    return h('button', Object.assign({ type: 'button', 'data-action': action }, attrs), label);
  }

  const fmtTime = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  /** On a card: today's jobs by their time alone. */
  const fmtWhen = (ms) => (new Date(ms).toDateString() === new Date().toDateString()
    ? new Date(ms).toLocaleTimeString(undefined, { timeStyle: 'short' }) : fmtTime(ms));
  function fmtDuration(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }
  const modelOf = (job) => job.workflow ? `workflow ${job.workflow}` : (job.model || '');
  const altOf = (job, i) => `Image ${i + 1} of ${job.images.length}: ${job.prompt.slice(0, 150)}`;

  // ------------------------------------------------------------------ messages

  function showError(context, err) {
    state.bannerContext = context;
    $('#banner-text').textContent = `${context}: ${err && err.message ? err.message : err}`;
    $('#banner').hidden = false;
  }

  let toastTimer = 0;
  function toast(text) {
    const t = $('#toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {}

  /** GET (no body) or POST (JSON body, CSRF header) to the gallery API; throws the server's error text. */
  async function api(path, body, retried) {
    const opts = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-Easel-CSRF'] = state.csrf;
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(`easel did not answer (${e.message}); check that it is still running`);
    }
    if (res.status === 401) {
      location.assign('/gallery/login');
      throw new ApiError('not signed in: sign in with the token');
    }
    let data = null;
    try { data = await res.json(); } catch (_) { /* no JSON: the status line says it */ }
    // A 403 on a POST can be a CSRF token from an older session: fetch the current one, once.
    if (res.status === 403 && body !== undefined && !retried) {
      await session();
      return api(path, body, true);
    }
    if (!res.ok) throw new ApiError(data && data.error ? data.error : `HTTP ${res.status} from ${path}`);
    return data;
  }

  async function session() {
    const s = await api('/gallery/api/session');
    state.csrf = s.csrf;
    $('#signout').hidden = !s.token_required;
    return s;
  }

  // ------------------------------------------------------------------ filters

  function readFilters() {
    const f = {};
    for (const [k, v] of new FormData(filterForm)) {
      const t = String(v).trim();
      if (t) f[k] = t;
    }
    return f;
  }

  function query(extra) {
    const q = new URLSearchParams(state.filters);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q;
  }

  function setOptions(select, values) {
    const keep = select.value;
    const first = select.options[0];
    select.replaceChildren(first);
    for (const { value, label } of values) select.append(h('option', { value }, label));
    if (keep && ![...select.options].some((o) => o.value === keep)) select.append(h('option', { value: keep }, keep));
    select.value = keep;
  }

  async function loadFacets() {
    const f = await api('/gallery/api/facets');
    const plain = (xs) => (xs || []).map((x) => ({ value: x, label: x }));
    // Every status, not only those in the store now: a filter on one with no job yet still makes sense live.
    setOptions(filterForm.elements.status, plain(STATUSES));
    setOptions(filterForm.elements.backend, plain(f.backends));
    setOptions(filterForm.elements.model, plain(f.models));
    setOptions(filterForm.elements.batch, (f.batches || []).map((b) => ({ value: b.key, label: `${b.key} (${b.jobs})` })));
  }

  /** Filters live in the fragment, so a reload or a shared link keeps them (nothing secret is in them). */
  function filtersFromHash() {
    const q = new URLSearchParams(location.hash.slice(1));
    for (const el of filterForm.elements) {
      if (!el.name) continue;
      const v = q.get(el.name) || '';
      if (el.tagName === 'SELECT' && v && ![...el.options].some((o) => o.value === v)) el.append(h('option', { value: v }, v));
      el.value = v;
    }
  }

  function applyFilters() {
    state.filters = readFilters();
    const frag = new URLSearchParams(state.filters).toString();
    history.replaceState(null, '', frag ? `#${frag}` : location.pathname);
    reload();
  }

  /** Whether a job (from the event stream) belongs in the list the filters describe. */
  function matches(job) {
    const f = state.filters;
    if (f.status && !f.status.split(',').includes(job.status)) return false;
    if (f.backend && job.backend !== f.backend) return false;
    if (f.model && job.model !== f.model && job.workflow !== f.model) return false;
    if (f.batch && job.batch !== f.batch) return false;
    if (f.q && !job.prompt.toLowerCase().includes(f.q.toLowerCase())) return false;
    if (f.since && job.created_at_ms < Date.parse(`${f.since}T00:00:00Z`)) return false;
    if (f.until && job.created_at_ms >= Date.parse(`${f.until}T00:00:00Z`) + 86400000) return false;
    return true;
  }

  // ------------------------------------------------------------------ cards

  function progressBar(job) {
    const box = h('div', { class: 'progress-box' },
      h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': 'Progress' },
        h('div', { class: 'bar' })),
      h('p', { class: 'progress-msg' }));
    setProgress(box, job);
    return box;
  }

  /** Updates a progress bar in place (so its transition runs and nothing around it is rebuilt). */
  function setProgress(box, job) {
    const p = job.progress || {};
    const fraction = Math.max(0, Math.min(1, Number(p.fraction) || 0));
    const pct = Math.round(fraction * 100);
    let message = p.message || job.status;
    if (p.queue_position !== undefined && p.queue_position !== null) message = `${message} (queue position ${p.queue_position})`;
    const bar = box.querySelector('.progress');
    bar.setAttribute('aria-valuenow', pct);
    bar.setAttribute('aria-valuetext', `${pct}%: ${message}`);
    bar.firstChild.style.transform = `scaleX(${fraction})`; // CSSOM: allowed by the CSP, unlike a style attribute
    box.querySelector('.progress-msg').textContent = `${pct}% · ${message}`;
  }

  function thumbs(job) {
    if (job.images.length === 0) {
      if (ACTIVE.has(job.status)) return h('div', { class: 'media placeholder' }, progressBar(job));
      return h('div', { class: 'media placeholder' }, h('span', { class: 'none' }, job.status === 'failed' ? 'no image: failed' : `no image: ${job.status}`));
    }
    const shown = job.images.slice(0, 4);
    return h('div', { class: `media n${shown.length}` }, shown.map((img) => {
      const key = `${job.id}/${img.index}`;
      // Videos have no thumbnail (docs/GALLERY.md): a tile says what is there.
      const pic = img.media === 'video' ? h('span', { class: 'video-tile', role: 'img', 'aria-label': altOf(job, img.index) }, '▶')
        : h('img', { src: img.thumb, alt: altOf(job, img.index), loading: 'lazy', decoding: 'async', width: img.width, height: img.height });
      return h('button', {
        type: 'button', class: state.selected.has(key) ? 'thumb selected' : 'thumb', 'data-action': 'open',
        'data-index': img.index, 'aria-label': `Open image ${img.index + 1}`,
      }, pic, img.media !== 'still' ? h('span', { class: 'kind' }, img.media) : null);
    }), job.images.length > shown.length ? h('span', { class: 'extra' }, `+${job.images.length - shown.length}`) : null);
  }

  function meta(job) {
    const rows = [
      ['backend', job.backend],
      [job.workflow ? 'workflow' : 'model', job.workflow || job.model],
      ['size', job.count > 1 ? `${job.size} × ${job.count}` : job.size],
      ['seed', job.seeds && job.seeds.length ? job.seeds.join(', ') : null],
      ['batch', job.batch],
      ['edit', job.edit ? 'yes' : null],
    ];
    return h('dl', { class: 'meta' }, rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, String(v)))));
  }

  function actions(job) {
    return h('div', { class: 'actions' },
      ACTIVE.has(job.status) ? button('cancel', 'Cancel', { class: 'danger' }) : null,
      button('again', 'Run again', { title: 'The same parameters and seed' }),
      button('variation', 'Variation', { title: 'The same parameters with a new seed' }),
      button('open', 'Details', { 'data-index': 0 }));
  }

  function renderCard(job) {
    const when = [fmtWhen(job.created_at_ms), fmtDuration(job.duration_ms)].filter(Boolean).join(' · ');
    return h('li', { class: 'card', 'data-job-id': job.id, 'data-status': job.status },
      thumbs(job),
      h('div', { class: 'body' },
        h('div', { class: 'head' }, h('span', { class: `badge ${job.status}` }, job.status), h('span', { class: 'when', title: fmtTime(job.created_at_ms) }, when)),
        job.images.length && ACTIVE.has(job.status) ? progressBar(job) : null,
        h('p', { class: 'prompt', title: job.prompt }, job.prompt),
        job.prompt_truncated ? button('prompt', 'Whole prompt', { class: 'link' }) : null,
        meta(job),
        job.error ? h('p', { class: 'error' }, job.error) : null,
        actions(job)));
  }

  /** Where a new card goes among the loaded ones (newest first by created_at_ms, then id), or null. */
  function placeFor(job) {
    for (const el of grid.children) {
      const other = state.cards.get(el.dataset.jobId).job;
      if (other.created_at_ms < job.created_at_ms || (other.created_at_ms === job.created_at_ms && other.id < job.id)) return el;
    }
    return undefined; // after the last loaded card
  }

  /** Whether two states of a job differ in nothing but progress (and the times that come with it). */
  function sameShape(a, b) {
    return a.status === b.status && a.images.length === b.images.length && a.error === b.error
      && a.duration_ms === b.duration_ms && String(a.seeds) === String(b.seeds) && a.prompt === b.prompt;
  }

  /** Adds or refreshes a card; `append` for list pages, else it goes where its time says. */
  function upsert(job, append) {
    const known = state.cards.get(job.id);
    if (known) {
      const old = known.job;
      known.job = job;
      // Progress alone changes in place: the card's buttons stay the same elements (focus, clicks).
      if (sameShape(old, job)) {
        for (const box of known.el.querySelectorAll('.progress-box')) setProgress(box, job);
        if (state.view && state.view.id === job.id) for (const box of viewer.querySelectorAll('.progress-box')) setProgress(box, job);
        return;
      }
      state.full.delete(job.id);
      const focused = known.el.contains(document.activeElement) ? document.activeElement.dataset.action : null;
      const el = renderCard(job);
      known.el.replaceWith(el);
      known.el = el;
      if (focused) { const b = el.querySelector(`[data-action="${focused}"]`); if (b) b.focus(); }
      if (state.view && state.view.id === job.id) renderViewer();
      return;
    }
    const el = renderCard(job);
    if (append) grid.append(el);
    else {
      const before = placeFor(job);
      if (before) grid.insertBefore(el, before);
      else if (state.next === null) grid.append(el);
      else return; // older than every loaded card: paging will bring it
    }
    state.cards.set(job.id, { job, el });
    updateEmpty();
  }

  function updateEmpty() {
    const empty = $('#empty');
    empty.hidden = grid.children.length > 0 || state.loading || state.listFailed;
    empty.textContent = Object.keys(state.filters).length ? 'No job matches these filters.' : 'No jobs yet: generate an image and it appears here.';
  }

  function updateMore() {
    more.hidden = state.next === null;
    more.disabled = state.loading;
    more.textContent = state.loading ? 'Loading…' : 'Load more';
  }

  // ------------------------------------------------------------------ the list

  async function reload() {
    const gen = ++state.gen;
    state.loading = true;
    state.next = null;
    updateMore();
    try {
      const data = await api(`/gallery/api/jobs?${query({ limit: 40 })}`);
      if (gen !== state.gen) return;
      grid.replaceChildren();
      state.cards.clear();
      state.listFailed = false;
      // An earlier failure to load the list is over now (other errors stay until dismissed).
      if (/^Load/.test(state.bannerContext || '')) $('#banner').hidden = true;
      state.next = data.next || null;
      for (const job of data.jobs) upsert(job, true);
    } catch (e) {
      if (gen === state.gen) { state.listFailed = true; showError('Loading the jobs failed', e); }
    } finally {
      if (gen === state.gen) { state.loading = false; updateMore(); updateEmpty(); keepFilling(); }
    }
  }

  async function loadMore() {
    if (state.loading || state.next === null) return;
    const gen = state.gen;
    state.loading = true;
    updateMore();
    try {
      const data = await api(`/gallery/api/jobs?${query({ limit: 40, cursor: state.next })}`);
      if (gen !== state.gen) return;
      state.next = data.next || null;
      for (const job of data.jobs) if (!state.cards.has(job.id)) upsert(job, true);
    } catch (e) {
      if (gen === state.gen) showError('Loading more jobs failed', e);
    } finally {
      if (gen === state.gen) { state.loading = false; updateMore(); keepFilling(); }
    }
  }

  /** Infinite scroll: the observer fires on entering the view, so a page that still shows the button after a load asks again. */
  function keepFilling() {
    if (state.next === null || more.hidden) return;
    const r = more.getBoundingClientRect();
    if (r.top < innerHeight + 600) loadMore();
  }

  /** After the event stream reconnects: fetch the first page again and merge it (events may have been missed). */
  async function refreshTop() {
    try {
      const data = await api(`/gallery/api/jobs?${query({ limit: 40 })}`);
      for (const job of data.jobs) upsert(job, false);
    } catch (e) {
      showError('Refreshing the jobs failed', e);
    }
  }

  // ------------------------------------------------------------------ live events

  let source = null;
  function connect() {
    const live = $('#live');
    source = new EventSource('/gallery/events');
    let opened = false;
    source.addEventListener('open', () => {
      live.textContent = 'live';
      live.className = 'live on';
      // The stream carries changes from now on: what changed between the first listing (or a
      // dropped connection) and now is fetched once, so a job that finished meanwhile is not missed.
      refreshTop();
      state.retry = 1000;
      opened = true;
    });
    source.addEventListener('job', (ev) => {
      let job;
      try { job = JSON.parse(ev.data); } catch (_) { return; }
      if (state.cards.has(job.id) || matches(job)) upsert(job, false);
    });
    // The server dropped events for this page (it read too slowly): catch up from the list.
    source.addEventListener('resync', () => refreshTop());
    source.addEventListener('error', () => {
      live.textContent = 'reconnecting…';
      live.className = 'live off';
      // The browser retries by itself after a dropped connection; it gives up (CLOSED) on an
      // HTTP error such as 401 or 503: then back off, check the session, and open a new stream.
      if (source.readyState !== EventSource.CLOSED) { if (opened) state.retry = 2000; return; }
      source.close();
      const delay = state.retry;
      state.retry = Math.min(state.retry * 2, 30000);
      setTimeout(async () => {
        try { await session(); } catch (_) { /* api() went to the sign-in page or the banner says why */ }
        connect();
      }, delay);
    });
  }

  // ------------------------------------------------------------------ the viewer

  const fetching = new Map(); // job id -> the request for its full record in flight
  async function fullJob(id) {
    if (state.full.has(id)) return state.full.get(id);
    if (!fetching.has(id)) {
      fetching.set(id, api(`/gallery/api/jobs/${encodeURIComponent(id)}`)
        .then((full) => {
          // Not kept if the job changed while it was on its way (the next render asks again).
          const known = state.cards.get(id);
          if (!known || known.job.status === full.status) state.full.set(id, full);
          return full;
        })
        .finally(() => fetching.delete(id)));
    }
    return fetching.get(id);
  }

  /** The viewer shows the card at once and the full record (all parameters, command, paths) when it arrives. */
  function loadFullForViewer(id) {
    if (state.full.has(id) || fetching.has(id)) return;
    fullJob(id).then(() => { if (state.view && state.view.id === id && state.full.has(id)) fillViewerDetails(); })
      .catch((e) => showError('Loading the job failed', e));
  }

  function openViewer(id, index) {
    state.view = { id, index: index || 0 };
    renderViewer();
    if (!viewer.open) viewer.showModal();
  }

  function paramRows(job, full) {
    const json = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
    const f = full || {};
    const rows = [
      ['job', job.id], ['status', job.status], ['created', fmtTime(job.created_at_ms)],
      ['finished', job.finished_at_ms ? fmtTime(job.finished_at_ms) : null], ['took', fmtDuration(job.duration_ms)],
      ['backend', job.backend], ['model', job.model], ['workflow', job.workflow], ['size', job.size],
      ['count', job.count], ['seeds', job.seeds && job.seeds.length ? job.seeds.join(', ') : null],
      ['steps', f.steps], ['guidance', f.guidance], ['negative prompt', f.negative_prompt],
      ['LoRAs', f.loras && Object.keys(f.loras).length ? json(f.loras) : null],
      ['parameters', f.params && Object.keys(f.params).length ? json(f.params) : null],
      ['sources', f.sources && f.sources.length ? f.sources.join(', ') : null],
      ['batch', job.batch], ['edit', job.edit ? 'yes' : null],
      ['warnings', f.warnings && f.warnings.length ? f.warnings.join('\n') : null],
      ['failures', f.failures && f.failures.length ? f.failures.map((x) => `image ${x.index + 1}: ${x.error}`).join('\n') : null],
      ['error', job.error],
    ];
    return rows.filter(([, v]) => v !== null && v !== undefined && v !== '');
  }

  function renderViewer() {
    const view = state.view;
    const known = view && state.cards.get(view.id);
    if (!known) return;
    const job = known.job;
    const full = state.full.get(job.id);
    if (!full) loadFullForViewer(job.id);
    const n = job.images.length;
    view.index = Math.min(view.index, Math.max(0, n - 1));
    const img = job.images[view.index];
    const focused = viewer.contains(document.activeElement) ? document.activeElement.dataset.action : null;

    let media;
    if (!img) media = h('div', { class: 'stage-empty' }, ACTIVE.has(job.status) ? progressBar(job) : h('p', null, `No image (${job.status}).`));
    else if (img.media === 'video') media = h('video', { src: img.full, controls: true, playsinline: true, 'aria-label': altOf(job, img.index) });
    else media = h('img', { src: img.full, alt: altOf(job, img.index), width: img.width, height: img.height });

    const key = img ? `${job.id}/${img.index}` : null;
    viewer.replaceChildren(
      h('div', { class: 'stage' },
        button('prev', '‹', { class: 'nav', 'aria-label': 'Previous image or job (←)' }),
        h('figure', null, media, n ? h('figcaption', null, `${view.index + 1} / ${n}${img ? ` · ${img.width}×${img.height} · ${img.name}` : ''}`) : null),
        button('next', '›', { class: 'nav', 'aria-label': 'Next image or job (→)' })),
      h('section', { class: 'info', 'data-job-id': job.id, 'data-status': job.status },
        h('header', { class: 'dialog-head' },
          h('h2', { id: 'viewer-title' }, h('span', { class: `badge ${job.status}` }, job.status), ` ${modelOf(job) || job.backend}`),
          button('close', '×', { class: 'ghost', 'aria-label': 'Close (Esc)' })),
        img && ACTIVE.has(job.status) ? progressBar(job) : null,
        h('div', { class: 'actions' },
          ACTIVE.has(job.status) ? button('cancel', 'Cancel', { class: 'danger' }) : null,
          button('again', 'Run again'),
          button('variation', 'Variation'),
          button('copy-command', 'Copy command', { disabled: !full }),
          img ? button('copy-path', 'Copy path', { disabled: !full }) : null,
          img ? h('a', { class: 'button', href: img.full, download: img.name, 'data-action': 'download' }, 'Download') : null,
          img ? button('select', state.selected.has(key) ? 'Selected ✓' : 'Select for note', { 'aria-pressed': String(state.selected.has(key)) }) : null),
        ...viewerDetails(job, full)));
    const again = focused && viewer.querySelector(`[data-action="${focused}"]`);
    (again || viewer.querySelector('[data-action="close"]')).focus();
  }

  /** The parts of the viewer that the full record adds: prompt, parameters, command. */
  function viewerDetails(job, full) {
    return [
      h('p', { class: 'prompt whole' }, full ? full.prompt : job.prompt),
      h('dl', { class: 'params' }, paramRows(job, full).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, String(v))))),
      full && full.command ? h('pre', { class: 'command' }, full.command) : h('pre', { class: 'command', hidden: true }),
    ];
  }

  /**
   * The full record arrived while the viewer shows its job: fill in the details in place, so
   * the buttons stay the same elements (a click or focus on them is never lost to a re-render).
   */
  function fillViewerDetails() {
    const known = state.view && state.cards.get(state.view.id);
    const full = known && state.full.get(known.job.id);
    const info = viewer.querySelector('.info');
    if (!full || !info || info.dataset.jobId !== known.job.id) return;
    const [prompt, params, command] = viewerDetails(known.job, full);
    info.querySelector('.prompt.whole').replaceWith(prompt);
    info.querySelector('dl.params').replaceWith(params);
    info.querySelector('pre.command').replaceWith(command);
    for (const b of info.querySelectorAll('[data-action="copy-command"], [data-action="copy-path"]')) b.disabled = false;
  }

  /** ←/→: the next image of the job, then on to the neighbouring job in the grid. */
  async function step(delta) {
    const view = state.view;
    if (!view) return;
    const known = state.cards.get(view.id);
    const n = known ? known.job.images.length : 0;
    const i = view.index + delta;
    if (i >= 0 && i < n) { view.index = i; renderViewer(); return; }
    let sibling = known && (delta > 0 ? known.el.nextElementSibling : known.el.previousElementSibling);
    if (!sibling && delta > 0 && state.next !== null) {
      await loadMore();
      sibling = known.el.nextElementSibling;
    }
    if (!sibling) return;
    const job = state.cards.get(sibling.dataset.jobId).job;
    openViewer(job.id, delta > 0 ? 0 : Math.max(0, job.images.length - 1));
  }

  // ------------------------------------------------------------------ actions

  async function copy(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      toast(`${what} copied`);
    } catch (_) {
      // No clipboard (e.g. plain http from another machine): show it selected for a manual copy.
      const field = h('textarea', { class: 'copy-field', readonly: true, 'aria-label': what }, text);
      const t = $('#toast');
      clearTimeout(toastTimer); // stays until the next message: copying by hand takes a moment
      t.replaceChildren(`${what} (copy it by hand):`, field);
      t.hidden = false;
      field.select();
    }
  }

  async function run(action, id, index) {
    const job = state.cards.get(id) && state.cards.get(id).job;
    try {
      if (action === 'cancel') {
        const r = await api(`/gallery/api/jobs/${encodeURIComponent(id)}/cancel`, {});
        upsert(r.job, false);
        toast('Cancelled');
      } else if (action === 'again' || action === 'variation') {
        const r = await api(`/gallery/api/jobs/${encodeURIComponent(id)}/again`, { variation: action === 'variation' });
        if (!state.cards.has(r.job.id) && matches(r.job)) upsert(r.job, false);
        toast(action === 'again' ? 'Started again with the same seed' : 'Started a variation with a new seed');
      } else if (action === 'copy-command') {
        copy((await fullJob(id)).command, 'Command');
      } else if (action === 'copy-path') {
        const paths = (await fullJob(id)).paths || [];
        copy(paths[index] || '', 'Path');
      } else if (action === 'select' && job) {
        const img = job.images[index];
        const key = `${id}/${img.index}`;
        if (state.selected.has(key)) state.selected.delete(key);
        else state.selected.set(key, { job_id: id, index: img.index, thumb: img.media === 'video' ? null : img.thumb, alt: altOf(job, img.index) });
        updateSelection();
      } else if (action === 'prompt') {
        const full = await fullJob(id);
        const p = state.cards.get(id).el.querySelector('.prompt');
        p.textContent = full.prompt;
        p.classList.add('whole');
        const b = state.cards.get(id).el.querySelector('[data-action="prompt"]');
        if (b) b.remove();
      }
    } catch (e) {
      showError(`${action.replace('-', ' ')} failed`, e);
    }
  }

  /** The selection bar, the marks on the thumbnails and the viewer's Select button. */
  function updateSelection() {
    for (const el of grid.querySelectorAll('.thumb')) {
      const id = el.closest('[data-job-id]').dataset.jobId;
      el.classList.toggle('selected', state.selected.has(`${id}/${el.dataset.index}`));
    }
    if (state.view) renderViewer();
    const n = state.selected.size;
    $('#selection').hidden = n === 0;
    $('#selection-count').textContent = `${n} image${n === 1 ? '' : 's'} selected`;
    document.body.classList.toggle('has-selection', n > 0);
  }

  // ------------------------------------------------------------------ publishing

  function publishBody() {
    const f = $('#publish-form').elements;
    const body = {
      images: [...state.selected.values()].map(({ job_id, index }) => ({ job_id, index })),
      title: f.title.value.trim(),
      content: f.content.value,
      tags: f.tags.value.split(/[,，\n]/).map((t) => t.trim().replace(/^#/, '')).filter(Boolean),
    };
    if (f.publisher.value.trim()) body.publisher = f.publisher.value.trim();
    return body;
  }

  function openPublish() {
    $('#publish-images').replaceChildren(...[...state.selected.values()].map((s) => h('li', null,
      s.thumb ? h('img', { src: s.thumb, alt: s.alt }) : h('span', { class: 'video-tile', role: 'img', 'aria-label': s.alt }, '▶'))));
    $('#publish-result').replaceChildren();
    $('[data-action="publish"]', publishDialog).disabled = true;
    if (viewer.open) viewer.close();
    publishDialog.showModal();
    $('#publish-form').elements.title.focus();
  }

  async function preview() {
    const out = $('#publish-result');
    const confirmButton = $('[data-action="publish"]', publishDialog);
    confirmButton.disabled = true;
    out.replaceChildren(h('p', null, 'Checking…'));
    try {
      const r = await api('/gallery/api/publish/preview', publishBody());
      out.replaceChildren(h('div', null,
        h('p', { class: r.ok ? 'summary ok' : 'summary bad' }, r.summary),
        // The summary may already quote a problem: list only those it does not.
        h('ul', { class: 'problems' }, (r.problems || []).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)))
          .filter((p) => !String(r.summary).includes(p)).map((p) => h('li', null, p))),
        r.ok ? h('p', null, 'Publish exactly this? Press “Confirm and publish”.') : null));
      confirmButton.disabled = !r.ok;
      if (r.ok) confirmButton.focus();
    } catch (e) {
      out.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }

  async function publish() {
    const out = $('#publish-result');
    const confirmButton = $('[data-action="publish"]', publishDialog);
    confirmButton.disabled = true;
    try {
      const r = await api('/gallery/api/publish', Object.assign(publishBody(), { confirm: true }));
      const note = r.note || {};
      const where = note.url || note.location || note.link || '';
      out.replaceChildren(h('p', { class: 'summary ok' }, `Published${where ? `: ${where}` : ''}`),
        h('details', null, h('summary', null, 'What easel sent'), h('pre', { class: 'command' }, JSON.stringify(note, null, 2))));
      state.selected.clear();
      updateSelection();
    } catch (e) {
      out.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }

  // ------------------------------------------------------------------ wiring

  function onClick(ev) {
    const b = ev.target.closest('[data-action]');
    if (!b || b.disabled) return;
    const action = b.dataset.action;
    const card = b.closest('[data-job-id]');
    const id = card ? card.dataset.jobId : null;
    switch (action) {
      case 'open': openViewer(id, Number(b.dataset.index) || 0); break;
      case 'close': b.closest('dialog').close(); break;
      case 'prev': step(-1); break;
      case 'next': step(1); break;
      case 'more': loadMore(); break;
      case 'dismiss': $('#banner').hidden = true; break;
      case 'reset': break; // the form's reset event reloads
      case 'signout':
        api('/gallery/logout', {}).catch(() => {}).finally(() => location.assign('/gallery/login'));
        break;
      case 'publish-open': openPublish(); break;
      case 'clear-selection': state.selected.clear(); updateSelection(); break;
      case 'preview': preview(); break;
      case 'publish': publish(); break;
      case 'download': return; // a plain link
      default:
        if (id) run(action, id, state.view && state.view.id === id ? state.view.index : 0);
    }
  }

  function init() {
    document.addEventListener('click', onClick);
    let typing = 0;
    filterForm.addEventListener('change', applyFilters);
    filterForm.addEventListener('input', (ev) => {
      if (ev.target.name !== 'q') return;
      clearTimeout(typing);
      typing = setTimeout(applyFilters, 300); // not one request per key
    });
    filterForm.addEventListener('submit', (ev) => { ev.preventDefault(); applyFilters(); });
    filterForm.addEventListener('reset', () => setTimeout(applyFilters, 0)); // after the fields are cleared
    $('#publish-form').addEventListener('submit', (ev) => { ev.preventDefault(); preview(); });
    $('#publish-form').addEventListener('input', () => { $('[data-action="publish"]', publishDialog).disabled = true; });

    viewer.addEventListener('close', () => {
      const id = state.view && state.view.id;
      state.view = null;
      viewer.replaceChildren();
      const known = id && state.cards.get(id);
      if (known) (known.el.querySelector('[data-action="open"]') || known.el).focus();
    });
    viewer.addEventListener('keydown', (ev) => {
      if (ev.target.closest('input, textarea, video')) return;
      if (ev.key === 'ArrowLeft') { ev.preventDefault(); step(-1); }
      if (ev.key === 'ArrowRight') { ev.preventDefault(); step(1); }
    });
    // The dialog is modal (the page behind is inert); Tab also cycles inside it instead of leaving for the browser's UI.
    for (const dialog of [viewer, publishDialog]) {
      dialog.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Tab') return;
        const items = [...dialog.querySelectorAll('button:not([disabled]), a[href], input, textarea, select, video')];
        if (!items.length) return;
        const first = items[0];
        const last = items[items.length - 1];
        if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
        else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
      });
    }
    // Swipe between images on touch screens.
    let touchX = null;
    viewer.addEventListener('touchstart', (ev) => { touchX = ev.touches.length === 1 ? ev.touches[0].clientX : null; }, { passive: true });
    viewer.addEventListener('touchend', (ev) => {
      if (touchX === null || !ev.target.closest('.stage')) return;
      const dx = ev.changedTouches[0].clientX - touchX;
      touchX = null;
      if (Math.abs(dx) > 60) step(dx < 0 ? 1 : -1);
    });

    if ('IntersectionObserver' in window) {
      new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: '600px' }).observe(more);
    }
    if (matchMedia('(max-width: 600px)').matches && !location.hash) $('#filter-box').open = false;

    filtersFromHash();
    state.filters = readFilters();
    session()
      .then(() => {
        reload();
        connect();
        return loadFacets().then(filtersFromHash);
      })
      .catch((e) => showError('Starting the gallery failed', e));
  }

  init();
})();
