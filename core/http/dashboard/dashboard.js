// SPDX-License-Identifier: MIT
// The taskjet dashboard: reads /api/v1/overview every two seconds and the
// DLQ API when the dead letters change; replays and deletes letters after
// a confirmation. Every request goes to this page's own origin, states
// Content-Type: application/json when it changes something, and carries
// the bearer token once the operator typed it (kept in this page's memory
// only). Text from the server reaches the page through textContent only.
'use strict';

(function () {
	const POLL_MS = 2000;
	const LETTERS_MAX_AGE_MS = 30000; // re-list at least this often
	const PAGE = 100;
	const PAYLOAD_SHOWN_MAX = 65536; // bytes rendered as hex or base64

	const state = {
		overview: null,
		token: null,
		paused: false,
		timer: null,
		polling: false,
		filters: { route: '', subject: '', reason: '', since: '' },
		letters: [],
		lettersSig: null,
		lettersAt: 0,
		lettersGen: 0,
		nextSeq: 0,
		detail: null,
		payloadView: 'text',
	};

	const $ = (id) => document.getElementById(id);

	// An element with properties (class, text, title, data-*, on*) and
	// children (nodes or strings, which become text).
	function h(tag, props, ...children) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(props || {})) {
			if (v === undefined || v === null || v === false) continue;
			if (k === 'class') e.className = v;
			else if (k === 'text') e.textContent = v;
			else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
			else e.setAttribute(k, v === true ? '' : String(v));
		}
		for (const c of children) {
			if (c === null || c === undefined || c === false) continue;
			e.append(c instanceof Node ? c : document.createTextNode(String(c)));
		}
		return e;
	}

	// ---- formatting ----

	const intFmt = new Intl.NumberFormat('en-US');

	function fmtInt(n) {
		return n === null || n === undefined ? '–' : intFmt.format(n);
	}

	function fmtRate(r) {
		if (r === null || r === undefined) return '–';
		if (r === 0) return '0';
		return r < 10 ? r.toFixed(2) : r < 100 ? r.toFixed(1) : intFmt.format(Math.round(r));
	}

	// Three significant digits, without trailing zeros after the point.
	function sig3(x) {
		const t = x.toPrecision(3);
		return t.includes('.') && !t.includes('e') ? t.replace(/\.?0+$/, '') : String(Number(t));
	}

	function fmtSeconds(s) {
		if (s === null || s === undefined) return '–';
		if (s < 0.001) return Math.round(s * 1e6) + ' µs';
		if (s < 1) return sig3(s * 1000) + ' ms';
		return sig3(s) + ' s';
	}

	function fmtDuration(sec) {
		const d = Math.floor(sec / 86400), hr = Math.floor((sec % 86400) / 3600);
		const m = Math.floor((sec % 3600) / 60), s = Math.floor(sec % 60);
		if (d > 0) return `${d}d ${hr}h ${m}m`;
		if (hr > 0) return `${hr}h ${m}m ${s}s`;
		if (m > 0) return `${m}m ${s}s`;
		return `${s}s`;
	}

	function pad(n, w) {
		return String(n).padStart(w || 2, '0');
	}

	function fmtTime(iso) {
		const t = new Date(iso);
		if (isNaN(t)) return iso || '–';
		return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
			`${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
	}

	function fmtAgo(iso) {
		const ms = Date.now() - new Date(iso).getTime();
		if (!(ms >= 0)) return '';
		return fmtDuration(ms / 1000) + ' ago';
	}

	// A number cell; zeros greyed, `warn` marks a value worth a look.
	function numCell(text, opts) {
		const o = opts || {};
		const cls = ['num'];
		if (text === '0' || text === '–') cls.push('zero');
		else if (o.warn) cls.push('warn');
		return h('td', { class: cls.join(' '), title: o.title }, text);
	}

	// ---- the API ----

	async function api(method, path, body) {
		const headers = { Accept: 'application/json' };
		const init = { method, headers, cache: 'no-store', credentials: 'same-origin', redirect: 'error' };
		// Whether this request carried a token: a 401 then means the
		// server refused that token, not that it wants one.
		const sentToken = Boolean(state.token);
		if (sentToken) headers.Authorization = 'Bearer ' + state.token;
		if (method !== 'GET') {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body || {});
		}
		const res = await fetch(path, init);
		let doc = null;
		try {
			doc = await res.json();
		} catch (e) {
			doc = null;
		}
		if (!res.ok) {
			const err = new Error((doc && doc.error) || `HTTP ${res.status}`);
			err.status = res.status;
			err.tokenRefused = res.status === 401 && sentToken;
			throw err;
		}
		return doc;
	}

	// ---- subjects and routes ----

	// NATS subject matching: * is one token, > the rest (one or more).
	function subjectMatches(pattern, subject) {
		const p = pattern.split('.'), s = subject.split('.');
		for (let i = 0; i < p.length; i++) {
			if (p[i] === '>') return s.length > i;
			if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
		}
		return p.length === s.length;
	}

	// The route that takes `subject`: the first that matches, as the engine
	// looks it up.
	function routeOf(subject) {
		const routes = state.overview ? state.overview.routes : [];
		if (!subject) return null;
		return routes.find((r) => subjectMatches(r.subject, subject)) || null;
	}

	// ---- overview and routes ----

	function setText(id, text, title) {
		const e = $(id);
		e.textContent = text;
		if (title !== undefined) e.title = title;
	}

	function renderOverview(ov) {
		setText('worker', ov.worker_id || '');
		setText('f-worker', ov.worker_id || '–');
		setText('f-version', ov.version ? `taskjet ${ov.version}` : '–');
		setText('f-uptime', fmtDuration(ov.uptime_seconds), `since ${fmtTime(ov.started_at)}`);
		setText('f-backend', ov.backend || '–');

		const nats = $('f-nats');
		if (ov.connection) {
			nats.replaceChildren(h('span', {},
				h('span', { class: ov.connection.connected ? '' : 'warn' },
					ov.connection.connected ? 'connected' : 'disconnected'),
				ov.connection.reconnects > 0
					? h('span', { class: 'muted' }, ` · ${fmtInt(ov.connection.reconnects)} reconnects`) : null,
				h('br'), h('span', { class: 'muted mono' }, ov.location || '')));
		} else {
			nats.replaceChildren(h('span', { class: 'muted' }, `none (${ov.location || ov.backend})`));
		}

		const ready = $('f-ready');
		if (ov.ready) ready.replaceChildren(h('span', {}, 'ready'));
		else ready.replaceChildren(h('span', { class: 'warn' }, 'not ready'), ' ',
			h('span', { class: 'muted' }, ov.not_ready_reason || ''));
		const pill = $('ready-pill');
		pill.textContent = ov.ready ? 'ready' : 'not ready';
		pill.className = 'pill ' + (ov.ready ? 'ok' : 'bad');
		pill.title = ov.ready ? '' : ov.not_ready_reason || '';

		const dlq = ov.dlq || {};
		setText('f-dlq', dlq.found ? `${fmtInt(dlq.messages)} in ${dlq.stream}` : `no ${dlq.stream || 'DLQ'} stream`);

		$('rates-title').textContent = ov.window_seconds
			? `Per second, last ${ov.window_seconds >= 60 ? Math.round(ov.window_seconds / 60) + ' min' : ov.window_seconds + ' s'}`
			: 'Per second';
		renderRoutes(ov.routes || []);
		fillSelect($('filter-route'), ov.routes.map((r) => r.name), state.filters.route);
		fillSelect($('filter-reason'), ov.dlq_reasons || [], state.filters.reason);
	}

	function renderRoutes(routes) {
		const body = $('routes-table').tBodies[0];
		if (routes.length === 0) {
			body.replaceChildren(h('tr', {}, h('td', { class: 'empty', colspan: 17 }, 'No routes are configured.')));
			return;
		}
		body.replaceChildren(...routes.map((r) => {
			const lm = r.last_minute || {};
			const recent = lm.handler_calls > 0;
			const p50 = recent ? lm.handler_p50_seconds : r.handler_p50_seconds;
			const p99 = recent ? lm.handler_p99_seconds : r.handler_p99_seconds;
			const when = recent ? `last ${Math.round(lm.seconds)} s, ${lm.handler_calls} calls` : 'since start';
			const plugin = r.plugin || {};
			return h('tr', { 'data-route': r.name },
				h('td', {}, h('strong', {}, r.name)),
				h('td', { class: 'mono' }, r.subject),
				h('td', {}, plugin.name || '–',
					plugin.version ? h('span', { class: 'muted' }, ' ' + plugin.version) : null,
					plugin.handler && plugin.handler !== plugin.name
						? h('span', { class: 'muted' }, ` (${plugin.handler})`) : null),
				h('td', {}, r.isolation || '–'),
				numCell(fmtInt(r.concurrency)),
				numCell(fmtInt(r.in_flight)),
				numCell(fmtInt(r.pending)),
				numCell(fmtInt(r.ack_pending)),
				numCell(fmtRate(lm.received_per_sec)),
				numCell(fmtRate(lm.acked_per_sec)),
				numCell(fmtRate(lm.retried_per_sec)),
				numCell(fmtRate(lm.dead_lettered_per_sec), { warn: true }),
				numCell(fmtInt(r.acked)),
				numCell(fmtInt(r.retried)),
				numCell(fmtInt(r.dead_lettered), { warn: true }),
				numCell(fmtSeconds(p50), { title: when }),
				numCell(fmtSeconds(p99), { title: when }));
		}));
	}

	// Options of a <select>: "any" first, then `values`; keeps `selected`.
	function fillSelect(select, values, selected) {
		const want = ['', ...values];
		const have = Array.from(select.options).map((o) => o.value);
		if (want.length === have.length && want.every((v, i) => v === have[i])) return;
		select.replaceChildren(...want.map((v) => h('option', { value: v, selected: v === selected }, v || 'any')));
	}

	// ---- dead letters ----

	function lettersQuery(from) {
		const f = state.filters;
		const q = new URLSearchParams();
		const route = f.route && state.overview ? state.overview.routes.find((r) => r.name === f.route) : null;
		const subject = f.subject || (route ? route.subject : '');
		if (subject) q.set('subject', subject);
		if (f.reason) q.set('reason', f.reason);
		if (f.since) q.set('since', f.since);
		q.set('limit', String(PAGE));
		if (from) q.set('from', String(from));
		return 'api/v1/dlq?' + q.toString();
	}

	// The letters a page of the listing adds, narrowed to the route chosen
	// (a subject filter can match several routes' subjects).
	function keep(entry) {
		if (!state.filters.route) return true;
		const r = routeOf(entry.subject);
		return r !== null && r.name === state.filters.route;
	}

	async function loadLetters(more) {
		const gen = ++state.lettersGen;
		const status = $('letters-status');
		try {
			const doc = await api('GET', lettersQuery(more ? state.nextSeq : 0));
			if (gen !== state.lettersGen) return; // a newer listing is on its way
			const entries = doc.entries.filter(keep);
			state.letters = more ? state.letters.concat(entries) : entries;
			state.nextSeq = doc.truncated ? doc.next_seq : 0;
			state.lettersAt = Date.now();
			$('unlock').hidden = true;
			renderLetters();
			status.textContent = state.letters.length === 0
				? (filtersSet() ? 'No dead letter matches the filter.' : 'No dead letters.')
				: `Showing ${fmtInt(state.letters.length)}${state.nextSeq ? ' (more below)' : ''}, oldest first.`;
			status.className = 'muted';
		} catch (e) {
			if (gen !== state.lettersGen) return;
			state.lettersAt = Date.now();
			if (e.status === 401) {
				askUnlock(e.tokenRefused);
				state.letters = [];
				renderLetters();
				status.textContent = e.tokenRefused
					? 'The server refused that token: the dead letters need the one in http.token_file.'
					: 'The dead letters need the bearer token.';
			} else {
				status.textContent = `Cannot list the dead letters: ${e.message}`;
			}
			status.className = 'error';
		}
	}

	function filtersSet() {
		const f = state.filters;
		return Boolean(f.route || f.subject || f.reason || f.since);
	}

	function renderLetters() {
		const body = $('letters-table').tBodies[0];
		$('letters-count').textContent = state.letters.length ? `(${fmtInt(state.letters.length)})` : '';
		$('more').hidden = !state.nextSeq;
		if (state.letters.length === 0) {
			body.replaceChildren(h('tr', {}, h('td', { class: 'empty', colspan: 8 }, 'Nothing here.')));
			return;
		}
		body.replaceChildren(...state.letters.map((e) => {
			const route = routeOf(e.subject);
			return h('tr', { 'data-seq': e.seq },
				h('td', { class: 'num' }, String(e.seq)),
				h('td', { title: fmtAgo(e.stored_at) }, fmtTime(e.stored_at)),
				h('td', {}, route ? route.name : h('span', { class: 'muted' }, 'none')),
				h('td', { class: 'mono' }, e.subject || '–'),
				h('td', {}, h('span', { class: 'badge' }, e.reason || '–')),
				h('td', { class: 'num' }, String(e.attempts)),
				h('td', { class: 'wrap', title: e.error || '' }, truncate(e.error || '', 160)),
				h('td', {}, h('span', { class: 'row-actions' },
					h('button', { type: 'button', class: 'small', 'data-action': 'view', onclick: () => openDetail(e.seq) }, 'View'),
					h('button', { type: 'button', class: 'small', 'data-action': 'replay', onclick: () => confirmAction('replay', e) }, 'Replay…'),
					h('button', { type: 'button', class: 'small danger', 'data-action': 'delete', onclick: () => confirmAction('delete', e) }, 'Delete…'))));
		}));
	}

	function truncate(s, n) {
		return s.length > n ? s.slice(0, n - 1) + '…' : s;
	}

	// The listing is stale once the DLQ changed, or after a while (a
	// "since" filter moves with the clock).
	function lettersSignature(ov) {
		const d = ov.dlq || {};
		return d.found ? `${d.messages}/${d.first_seq}/${d.last_seq}` : 'none';
	}

	// ---- a letter in detail ----

	async function openDetail(seq) {
		const dlg = $('detail');
		$('detail-title').textContent = `Dead letter ${seq}`;
		$('detail-error').hidden = true;
		$('detail-fields').replaceChildren();
		$('detail-headers').tBodies[0].replaceChildren();
		$('payload').replaceChildren();
		$('payload-info').textContent = '';
		state.detail = null;
		setDetailButtons(false);
		if (!dlg.open) dlg.showModal();
		try {
			const doc = await api('GET', `api/v1/dlq/${seq}`);
			state.detail = doc;
			renderDetail(doc);
			setDetailButtons(true);
		} catch (e) {
			if (e.status === 401) {
				dlg.close();
				askUnlock(e.tokenRefused);
				$('letters-status').textContent = 'The dead letters need the bearer token.';
				return;
			}
			$('detail-error').textContent = e.status === 404 ? `Dead letter ${seq} is gone.` : e.message;
			$('detail-error').hidden = false;
		}
	}

	function setDetailButtons(on) {
		$('detail-replay').disabled = !on;
		$('detail-delete').disabled = !on;
	}

	function renderDetail(d) {
		const route = routeOf(d.subject);
		const fields = [
			['Sequence', String(d.seq)],
			['Stored', `${fmtTime(d.stored_at)} (${fmtAgo(d.stored_at)})`],
			['Reason', d.reason],
			['Error', d.error],
			['Subject', d.subject],
			['Route', route ? route.name : 'none matches'],
			['Stream', d.stream ? `${d.stream} #${d.stream_seq}` : null],
			['Attempts', String(d.attempts)],
			['Plugin', d.plugin],
			['Failed at', d.failed_at],
			['DLQ subject', d.dlq_subject],
		];
		$('detail-fields').replaceChildren(...fields.flatMap(([k, v]) =>
			[h('dt', {}, k), h('dd', {}, visible(v === null || v === undefined || v === '' ? '–' : v))]));
		const headers = d.headers || [];
		$('detail-headers').tBodies[0].replaceChildren(...(headers.length
			? headers.map((x) => h('tr', {}, h('td', {}, visible(x.key)), h('td', {}, visible(x.value))))
			: [h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'none'))]));
		const text = d.payload_encoding === 'utf-8';
		$('payload-info').textContent = `${fmtInt(d.payload_len)} bytes, ${text ? 'UTF-8 text' : 'not text'}`;
		document.querySelector('#detail .tabs [data-view="text"]').hidden = !text;
		showPayload(text ? 'text' : 'hex');
	}

	// The payload's bytes, whatever its encoding in the document.
	function payloadBytes(d) {
		if (d.payload_encoding === 'base64') {
			const bin = atob(d.payload || '');
			const out = new Uint8Array(bin.length);
			for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
			return out;
		}
		return new TextEncoder().encode(d.payload || '');
	}

	function showPayload(view) {
		const d = state.detail;
		const pre = $('payload');
		const note = $('payload-note');
		state.payloadView = view;
		for (const b of document.querySelectorAll('#detail .tabs button'))
			b.setAttribute('aria-selected', String(b.dataset.view === view));
		if (!d) return;
		note.hidden = true;
		pre.className = 'payload' + (view === 'hex' ? ' hex' : '');
		if (view === 'text') {
			let text = d.payload || '';
			try {
				if (/^\s*[[{]/.test(text)) text = JSON.stringify(JSON.parse(text), null, 2);
			} catch (e) {
				// not JSON: shown as it is
			}
			pre.replaceChildren(visible(text, true));
			return;
		}
		const bytes = payloadBytes(d);
		const shown = bytes.subarray(0, PAYLOAD_SHOWN_MAX);
		if (bytes.length > shown.length) {
			note.textContent = `The first ${fmtInt(shown.length)} of ${fmtInt(bytes.length)} bytes.`;
			note.hidden = false;
		}
		pre.textContent = view === 'hex' ? hexDump(shown) : toBase64(shown);
	}

	// Text with control characters and bidirectional overrides made
	// visible, so a payload or header cannot hide or reorder what is shown.
	function visible(s, keepLines) {
		const frag = document.createDocumentFragment();
		let plain = '';
		for (const ch of String(s)) {
			const c = ch.codePointAt(0);
			let shown = null;
			if (keepLines && (ch === '\n' || ch === '\t')) shown = null;
			else if (c < 0x20) shown = String.fromCodePoint(0x2400 + c);
			else if (c === 0x7f) shown = '\u2421';
			else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
				c === 0x200e || c === 0x200f || c === 0x200b || c === 0xfeff)
				shown = `<U+${c.toString(16).toUpperCase().padStart(4, '0')}>`;
			if (shown === null) {
				plain += ch;
				continue;
			}
			if (plain) frag.append(plain);
			plain = '';
			frag.append(h('span', { class: 'ctl', title: `U+${c.toString(16).toUpperCase().padStart(4, '0')}` }, shown));
		}
		if (plain) frag.append(plain);
		return frag;
	}

	function hexDump(bytes) {
		const lines = [];
		for (let off = 0; off < bytes.length; off += 16) {
			const row = bytes.subarray(off, off + 16);
			const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
			const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
			lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.slice(0, 8).join(' ').padEnd(23)}  ` +
				`${hex.slice(8).join(' ').padEnd(23)}  |${ascii}|`);
		}
		return lines.join('\n') || '(empty)';
	}

	function toBase64(bytes) {
		let bin = '';
		for (let i = 0; i < bytes.length; i += 0x8000)
			bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
		return btoa(bin) || '(empty)';
	}

	// ---- replay and delete ----

	let pending = null; // { kind, letter }

	function confirmAction(kind, letter) {
		pending = { kind, letter };
		const subject = letter.subject || '?';
		$('confirm-title').textContent = kind === 'replay' ? `Replay dead letter ${letter.seq}?` : `Delete dead letter ${letter.seq}?`;
		$('confirm-text').textContent = kind === 'replay'
			? `Its payload and headers are published again on ${subject}, then the letter is removed from the DLQ.`
			: `The letter (original subject ${subject}) is removed from the DLQ for good.`;
		$('confirm-ok').textContent = kind === 'replay' ? 'Replay' : 'Delete';
		$('confirm-ok').className = kind === 'replay' ? 'primary' : 'danger';
		$('confirm-error').hidden = true;
		askToken(state.overview && state.overview.token_required && !state.token);
		$('confirm-ok').disabled = false;
		$('confirm').showModal();
		(state.overview && state.overview.token_required && !state.token ? $('confirm-token') : $('confirm-cancel')).focus();
	}

	function askToken(on) {
		$('confirm-token-row').hidden = !on;
		$('confirm-token').required = on;
		if (on) $('confirm-token').value = '';
	}

	async function runConfirmed(ev) {
		ev.preventDefault();
		if (!pending) return;
		const { kind, letter } = pending;
		if (!$('confirm-token-row').hidden) state.token = $('confirm-token').value.trim() || null;
		$('confirm-ok').disabled = true;
		try {
			let msg;
			if (kind === 'replay') {
				const r = await api('POST', `api/v1/dlq/${letter.seq}/replay`, {});
				msg = `Letter ${letter.seq} replayed to ${r.stream} #${r.stream_seq}${r.duplicate ? ' (already there)' : ''}.`;
			} else {
				await api('DELETE', `api/v1/dlq/${letter.seq}`, {});
				msg = `Letter ${letter.seq} deleted.`;
			}
			pending = null;
			$('confirm').close();
			if ($('detail').open && state.detail && state.detail.seq === letter.seq) $('detail').close();
			state.letters = state.letters.filter((e) => e.seq !== letter.seq);
			renderLetters();
			toast(msg);
			state.lettersSig = null; // re-list on the next refresh
			poll();
		} catch (e) {
			$('confirm-ok').disabled = false;
			const err = $('confirm-error');
			if (e.status === 401) {
				state.token = null;
				err.textContent = e.tokenRefused
					? 'The server refused the token (was it changed?): type the one in http.token_file.'
					: 'The server wants a valid bearer token.';
				askToken(true);
				$('confirm-token').focus();
			} else if (e.status === 404) {
				err.textContent = `Letter ${letter.seq} is gone already.`;
				state.lettersSig = null;
			} else {
				err.textContent = e.message;
			}
			err.hidden = false;
		}
	}

	// The token, asked for once a read was refused without it, or with a
	// token the server does not take (mistyped, or changed since).
	function askUnlock(refused) {
		state.token = null;
		$('unlock-error').hidden = !refused;
		$('unlock').hidden = false;
	}

	let toastTimer = null;

	function toast(text) {
		const t = $('toast');
		t.textContent = text;
		t.hidden = false;
		clearTimeout(toastTimer);
		toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
	}

	// ---- the live refresh ----

	async function poll() {
		clearTimeout(state.timer);
		if (state.polling) return;
		state.polling = true;
		try {
			const ov = await api('GET', 'api/v1/overview');
			state.overview = ov;
			renderOverview(ov);
			$('banner').hidden = true;
			const sig = lettersSignature(ov);
			if (sig !== state.lettersSig || Date.now() - state.lettersAt > LETTERS_MAX_AGE_MS) {
				state.lettersSig = sig;
				await loadLetters(false);
			}
			// A replay or delete refreshes a paused page too: it stays paused.
			setText('live', state.paused ? 'paused' : `live · updated ${fmtTime(ov.time).slice(11)}`);
		} catch (e) {
			if (e.status === 401) askUnlock(e.tokenRefused);
			$('banner').textContent = e.status === 401
				? 'This server wants its bearer token.'
				: `Cannot reach taskjet: ${e.message}. Retrying every ${POLL_MS / 1000} s.`;
			$('banner').hidden = false;
			const pill = $('ready-pill');
			pill.textContent = 'unreachable';
			pill.className = 'pill bad';
			setText('live', 'offline');
		} finally {
			state.polling = false;
			schedule();
		}
	}

	function schedule() {
		clearTimeout(state.timer);
		if (!state.paused && !document.hidden) state.timer = setTimeout(poll, POLL_MS);
	}

	function readFilters() {
		state.filters = {
			route: $('filter-route').value,
			subject: $('filter-subject').value.trim(),
			reason: $('filter-reason').value,
			since: $('filter-since').value.trim(),
		};
	}

	function init() {
		$('filters').addEventListener('submit', (ev) => {
			ev.preventDefault();
			readFilters();
			loadLetters(false);
		});
		$('filters').addEventListener('reset', () => {
			setTimeout(() => {
				readFilters();
				loadLetters(false);
			});
		});
		$('unlock').addEventListener('submit', (ev) => {
			ev.preventDefault();
			state.token = $('unlock-token').value.trim() || null;
			$('unlock-token').value = '';
			$('unlock').hidden = true;
			state.lettersSig = null; // list again with the token
			poll();
		});
		$('more').addEventListener('click', () => loadLetters(true));
		$('pause').addEventListener('click', () => {
			state.paused = !state.paused;
			$('pause').textContent = state.paused ? 'Resume' : 'Pause';
			if (state.paused) {
				clearTimeout(state.timer);
				setText('live', 'paused');
			} else {
				poll();
			}
		});
		for (const b of document.querySelectorAll('[data-close]'))
			b.addEventListener('click', () => b.closest('dialog').close());
		for (const b of document.querySelectorAll('#detail .tabs button'))
			b.addEventListener('click', () => showPayload(b.dataset.view));
		$('detail-replay').addEventListener('click', () => state.detail && confirmAction('replay', state.detail));
		$('detail-delete').addEventListener('click', () => state.detail && confirmAction('delete', state.detail));
		$('confirm-form').addEventListener('submit', runConfirmed);
		$('confirm-cancel').addEventListener('click', () => {
			pending = null;
			$('confirm').close();
		});
		$('confirm').addEventListener('close', () => { pending = null; });
		document.addEventListener('visibilitychange', () => {
			if (document.hidden) clearTimeout(state.timer);
			else if (!state.paused) poll();
		});
		poll();
	}

	init();
}());
