// Copyright (c) 2026 The ocbroker authors
// SPDX-License-Identifier: ISC (the licence is in the file LICENSE)

// ocbroker smoke page: one WebSocket, binary protobuf (proto/messages.proto,
// compiled to static code by protobufjs's pbjs: messages.js), every reply
// matched to its request by request_id, events (request_id 0) applied as
// they come. A small chat client: sessions and their history, a model
// picker, the agent's questions and permission requests, its todo list.
// The transcript itself (state and view) is transcript.js.
//
// Everything that comes from the network or the user is put into the page
// with textContent or text nodes, never as HTML.
'use strict';

(function () {
	const REQUEST_TIMEOUT_MS = 60000;	// ocbroker answers within ~30 s
	const MAX_EVENTS = 200;
	const MAX_LIST = 8;			// names shown in a list reply
	const TODO_MARK = {completed: '\u2611', in_progress: '\u25d0',
	    pending: '\u2610', cancelled: '\u2612'};

	const $ = (id) => document.getElementById(id);
	const ui = {
		origin: $('origin'),
		schemaState: $('schema-state'),
		form: $('connect-form'),
		port: $('port'),
		token: $('token'),
		connect: $('connect'),
		disconnect: $('disconnect'),
		connState: $('conn-state'),
		ops: $('ops'),
		title: $('title'),
		sessionId: $('session-id'),
		sessionStatus: $('session-status'),
		sessionTitle: $('session-title'),
		sessionList: $('session-list'),
		model: $('model'),
		pageSize: $('page-size'),
		message: $('message'),
		older: $('op-older'),
		transcript: $('transcript'),
		pending: $('pending'),
		todos: $('todos'),
		results: $('results'),
		events: $('events'),
	};

	// What the browser sends as Origin: a page from file:// sends "null".
	const pageOrigin = location.protocol === 'file:' ? 'null' : location.origin;
	let ClientMessage = null;
	let ServerMessage = null;
	let ws = null;
	let nextId = 1;
	let sessionId = null;
	let upstreamLost = false;
	const pending = new Map();	// request_id -> {op, li, timer, done}
	const sessions = new Map();	// id -> SessionInfo
	const statuses = new Map();	// session id -> idle, busy, retry
	const waiting = new Map();	// question or permission id -> its card

	// uint64/int64 fields are numbers in the browser build and Long objects
	// where the long package is present.
	function num(v) {
		if (v === null || v === undefined)
			return 0;
		return typeof v === 'object' ? Number(v.toString()) : Number(v);
	}

	const transcript = window.SmokeTranscript(ui.transcript, num);

	// ---- small helpers ----

	const el = window.SmokeTranscript.el;

	function button(text, cls, onclick) {
		const b = el('button', cls, text);
		b.type = 'button';
		b.addEventListener('click', onclick);
		return b;
	}

	function setState(node, state, text) {
		node.dataset.state = state;
		node.textContent = text;
	}

	function listText(items, fmt) {
		const shown = items.slice(0, MAX_LIST).map(fmt).join(', ');
		return items.length > MAX_LIST ?
		    shown + ', … (' + (items.length - MAX_LIST) + ' more)' : shown;
	}

	function count(n, what) {
		return n + ' ' + what + (n === 1 ? '' : 's');
	}

	function quoted(s) {
		return '\u201c' + s + '\u201d';
	}

	function logEvent(kind, text) {
		const li = el('li');
		li.dataset.kind = kind;
		li.append(el('span', 'op', kind), document.createTextNode(' ' + text));
		ui.events.append(li);
		while (ui.events.childElementCount > MAX_EVENTS)
			ui.events.firstElementChild.remove();
		li.scrollIntoView({block: 'nearest'});
	}

	// One line in the results list: pending, then ✅ or ❌.
	function resultLine(op, rid) {
		const li = el('li');
		li.dataset.op = op;
		li.dataset.state = 'pending';
		if (rid)
			li.dataset.rid = String(rid);
		li.append(el('span', 'mark', '\u23f3'), el('span', 'op', op),
		    el('span', 'rid', rid ? '#' + rid : ''), el('span', 'detail', 'sent'));
		ui.results.append(li);
		li.scrollIntoView({block: 'nearest'});
		return li;
	}

	function finish(li, ok, detail) {
		li.dataset.state = ok ? 'ok' : 'error';
		li.querySelector('.mark').textContent = ok ? '\u2705' : '\u274c';
		li.querySelector('.detail').textContent = detail;
	}

	// A client-side refusal: a ❌ line, nothing sent.
	function refuse(op, why) {
		finish(resultLine(op, 0), false, why);
	}

	// ---- the schema ----

	// messages.js (pbjs static code, no eval) adds protobuf.roots.ocbroker.
	function loadSchema() {
		const root = typeof protobuf !== 'undefined' && protobuf.roots &&
		    protobuf.roots.ocbroker;
		if (!root || !root.opencode) {
			setState(ui.schemaState, 'error', '\u274c the protobuf code is ' +
			    'missing: run `npm ci && npm run build` in examples/smoke-page');
			return;
		}
		ClientMessage = root.opencode.ClientMessage;
		ServerMessage = root.opencode.ServerMessage;
		setState(ui.schemaState, 'ok',
		    '\u2705 protobufjs ready (proto/messages.proto, package opencode)');
		ui.connect.disabled = false;
	}

	// ---- requests ----

	// Sends payload (an object with one ClientMessage oneof field) and
	// calls done(li, msg) with the reply that carries its request_id.
	function request(op, payload, done) {
		if (!ws || ws.readyState !== WebSocket.OPEN) {
			refuse(op, 'not connected');
			return;
		}
		const rid = nextId++;
		const li = resultLine(op, rid);
		let bytes;
		try {
			const fields = Object.assign({request_id: rid}, payload);
			const err = ClientMessage.verify(fields);
			if (err)
				throw new Error(err);
			bytes = ClientMessage.encode(ClientMessage.create(fields)).finish();
		} catch (e) {
			finish(li, false, 'cannot encode: ' + e.message);
			return;
		}
		const timer = setTimeout(() => {
			pending.delete(rid);
			finish(li, false, 'TIMEOUT: no reply in ' +
			    REQUEST_TIMEOUT_MS / 1000 + ' s');
		}, REQUEST_TIMEOUT_MS);
		pending.set(rid, {op, li, timer, done});
		ws.send(bytes);
	}

	// Checks the reply's payload; an ErrorResponse or an unexpected payload
	// is ❌, else show(msg) gives the ✅ text.
	function expect(name, show) {
		return (li, msg) => {
			const got = msg.payload || null;
			if (got === 'error') {
				finish(li, false, msg.error.code +
				    (msg.error.message ? ': ' + msg.error.message : ''));
			} else if (got !== name) {
				finish(li, false, 'unexpected reply: ' + (got || 'empty'));
			} else {
				const r = show(name ? msg[name] : null);
				finish(li, r.ok !== false, r.text);
			}
		};
	}

	// A SessionInfo reply: the session shown takes it before show sees it.
	function expectSession(show) {
		return expect('session_info', (s) => {
			setSession(s);
			return show(s);
		});
	}

	function onReply(msg) {
		const rid = num(msg.request_id);
		const p = pending.get(rid);
		if (!p) {
			logEvent('stray', 'reply for request_id ' + rid +
			    ' that is not pending (' + (msg.payload || 'empty') + ')');
			return;
		}
		pending.delete(rid);
		clearTimeout(p.timer);
		p.done(p.li, msg);
	}

	// ---- sessions ----

	function sessionLabel(s) {
		return s.title ? s.title : s.id;
	}

	function renderSessions() {
		const list = [...sessions.values()].sort((a, b) =>
			num(b.updated_at) - num(a.updated_at) || (a.id < b.id ? 1 : -1));
		ui.sessionList.replaceChildren(...list.map((s) => {
			const li = el('li');
			li.dataset.id = s.id;
			if (s.id === sessionId)
				li.className = 'current';
			const st = statuses.get(s.id);
			li.append(button(sessionLabel(s), 'pick', () => pick(s.id)),
			    el('code', null, s.id));
			if (st && st !== 'idle')
				li.append(el('span', 'status', st));
			return li;
		}));
		const cur = sessionId && sessions.get(sessionId);
		ui.sessionTitle.textContent = cur ? quoted(sessionLabel(cur)) : '';
		ui.sessionStatus.textContent = sessionId ?
		    statuses.get(sessionId) || 'idle' : '';
	}

	function setSession(s) {
		sessions.set(s.id, s);
		renderSessions();
	}

	// Shows session id: its history, its todos, a clean slate before that.
	function pick(id) {
		sessionId = id;
		ui.sessionId.textContent = id;
		transcript.clear();
		ui.older.disabled = true;
		ui.todos.replaceChildren();
		renderSessions();
		history(null);
		todos();
	}

	function pageSize() {
		const n = Number(ui.pageSize.value);
		return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
	}

	// One page of history: the newest, or the one before `before`.
	function history(before) {
		const sid = sessionId;
		const req = {session_id: sid, limit: pageSize()};
		if (before)
			req.before = before;
		request(before ? 'older' : 'history', {list_messages: req},
		    expect('message_list', (l) => {
			if (sid !== sessionId)
				return {text: 'for another session: ignored'};
			transcript.load(l);
			ui.older.disabled = !l.more;
			return {text: count(l.messages.length, 'message') +
			    (l.more ? ', older ones exist' : ', no older ones')};
		}));
	}

	function older() {
		const o = transcript.oldestId();
		if (sessionId && o)
			history(o);
	}

	// ---- what the agent waits for: questions and permissions ----

	function dropCard(id) {
		const c = waiting.get(id);
		if (c) {
			c.remove();
			waiting.delete(id);
		}
	}

	function card(id, sid, kind, head) {
		dropCard(id);
		const c = el('div', 'card ' + kind);
		c.dataset.id = id;
		c.dataset.session = sid;
		c.append(el('div', 'card-head', head +
		    (sid !== sessionId ? ' (session ' + sid + ')' : '')));
		waiting.set(id, c);
		ui.pending.append(c);
		return c;
	}

	function showQuestion(q) {
		const c = card(q.id, q.session_id, 'question', '\u2753 question');
		const sets = q.questions.map((qq, i) => {
			const fs = el('fieldset');
			fs.append(el('legend', null, qq.header || 'question ' + (i + 1)),
			    el('p', null, qq.question));
			for (const o of qq.options) {
				const input = el('input');
				input.type = qq.multiple ? 'checkbox' : 'radio';
				input.name = q.id + '-' + i;
				input.value = o.label;
				const label = el('label', 'option');
				label.append(input, document.createTextNode(' ' + o.label +
				    (o.description ? ' \u2014 ' + o.description : '')));
				fs.append(label);
			}
			if (qq.custom) {
				const other = el('input', 'custom');
				other.type = 'text';
				other.placeholder = 'or your own answer';
				fs.append(other);
			}
			c.append(fs);
			return fs;
		});
		const answer = () => {
			const answers = sets.map((fs) => {
				const labels = [...fs.querySelectorAll('input:checked')]
				    .map((i) => i.value);
				const other = fs.querySelector('input.custom');
				if (other && other.value.trim())
					labels.push(other.value.trim());
				return {labels};
			});
			if (answers.some((a) => a.labels.length === 0)) {
				refuse('answer', 'choose an answer to every question');
				return;
			}
			request('answer', {reply_question: {question_id: q.id, answers}},
			    expect(null, () => {
				dropCard(q.id);
				return {text: 'answered ' + answers.map((a) =>
				    a.labels.join(' + ')).join('; ')};
			}));
		};
		const reject = () => request('reject', {reject_question: {question_id: q.id}},
		    expect(null, () => {
			dropCard(q.id);
			return {text: 'question rejected'};
		}));
		const row = el('div', 'row');
		row.append(button('Answer', 'answer', answer),
		    button('Reject', 'reject', reject));
		c.append(row);
	}

	function showPermission(p) {
		const c = card(p.permission_id, p.session_id, 'permission',
		    '\ud83d\udd12 permission: ' + p.permission + ' ' + p.patterns.join(' '));
		const reply = (how) => () => request('permit', {reply_permission: {
			session_id: p.session_id, permission_id: p.permission_id, reply: how}},
		    expect(null, () => {
			dropCard(p.permission_id);
			return {text: 'permission ' + how};
		}));
		const row = el('div', 'row');
		row.append(button('Allow once', 'once', reply('once')),
		    button('Always', 'always', reply('always')),
		    button('Reject', 'reject', reply('reject')));
		c.append(row);
	}

	// ---- todos ----

	function showTodos(list) {
		ui.todos.replaceChildren(...list.todos.map((t) => {
			const li = el('li', null, (TODO_MARK[t.status] || '?') + ' ' +
			    t.content + (t.priority ? ' (' + t.priority + ')' : ''));
			li.dataset.status = t.status;
			return li;
		}));
	}

	// ---- events (request_id 0) ----

	// The transcript shows one session; the session list and the cards
	// follow them all.
	function onEvent(msg) {
		const kind = msg.payload || 'empty';
		const e = msg[kind];
		const here = e && sessionId !== null && e.session_id === sessionId;
		switch (kind) {
		case 'token':
			if (here)
				transcript.token(e);
			return;
		case 'message_updated':
			if (here)
				transcript.message(e);
			return;
		case 'part_updated':
			if (here)
				transcript.part(e);
			return;
		case 'message_removed':
			if (here)
				transcript.removeMessage(e.message_id);
			logEvent(kind, e.session_id + ' ' + e.message_id);
			return;
		case 'part_removed':
			if (here)
				transcript.removePart(e.message_id, e.part_id);
			return;
		case 'completed': {
			const how = e.error ? 'ended with ' + e.error :
			    'completed: ' + (e.finish || 'no finish') + ', ' +
			    num(e.input_tokens) + ' in / ' + num(e.output_tokens) + ' out';
			if (here)
				transcript.completed(e);
			logEvent(kind, e.session_id + ' ' + e.message_id + ' ' + how);
			return;
		}
		case 'tool_call':
			if (here)
				transcript.tool(e);
			logEvent(kind, e.session_id + ' ' + e.tool + ' ' + e.status +
			    (e.title ? ' ' + quoted(e.title) : ''));
			return;
		case 'permission_request':
			showPermission(e);
			logEvent(kind, e.session_id + ' ' + e.permission + ' ' +
			    e.patterns.join(' '));
			return;
		case 'permission_resolved':
			dropCard(e.permission_id);
			logEvent(kind, e.session_id + ' ' + e.permission_id + ' ' + e.reply);
			return;
		case 'question_request':
			showQuestion(e);
			logEvent(kind, e.session_id + ' ' + e.id + ' ' +
			    count(e.questions.length, 'question'));
			return;
		case 'question_resolved':
			dropCard(e.question_id);
			logEvent(kind, e.session_id + ' ' + e.question_id +
			    (e.rejected ? ' rejected' : ' answered'));
			return;
		case 'todo_updated':
			if (here)
				showTodos(e);
			logEvent(kind, e.session_id + ' ' + count(e.todos.length, 'todo'));
			return;
		case 'diff_updated':
			logEvent(kind, e.session_id + ' ' + count(e.files.length, 'file'));
			return;
		case 'session_event':
			if (e.info && e.info.id && (e.kind === 'created' || e.kind === 'updated'))
				setSession(e.info);
			if (e.kind === 'deleted')
				sessions.delete(e.session_id);
			if (e.kind === 'status' || e.kind === 'idle')
				statuses.set(e.session_id, e.kind === 'idle' ? 'idle' : e.status);
			renderSessions();
			logEvent(kind, e.session_id + ' ' + e.kind +
			    (e.status ? ' ' + e.status : '') +
			    (e.error_name ? ' ' + e.error_name : '') +
			    (e.info && e.info.title ? ' ' + quoted(e.info.title) : ''));
			return;
		case 'upstream_status':
			// The upstream replays nothing after a gap: fetch it all again.
			if (e.connected && upstreamLost)
				loadAll();
			upstreamLost = !e.connected;
			logEvent(kind, e.connected ? 'connected, OpenCode ' + e.version :
			    'upstream lost');
			return;
		case 'error':
			// BAD_MESSAGE comes with request_id 0.
			logEvent(kind, e.code + ': ' + e.message);
			return;
		default:
			logEvent(kind, 'unexpected event');
		}
	}

	// ---- the connection ----

	function setConnected(authed) {
		ui.ops.disabled = !authed;
		ui.disconnect.disabled = ws === null;
		ui.connect.disabled = ws !== null || ClientMessage === null;
	}

	function connect(ev) {
		ev.preventDefault();
		const port = Number(ui.port.value);
		const token = ui.token.value.trim();
		if (!Number.isInteger(port) || port < 1 || port > 65535) {
			setState(ui.connState, 'error', '\u274c the port must be 1\u201365535');
			return;
		}
		if (!token) {
			setState(ui.connState, 'error', '\u274c enter the token');
			return;
		}
		let sock;
		try {
			sock = new WebSocket('ws://127.0.0.1:' + port + '/');
		} catch (e) {
			setState(ui.connState, 'error', '\u274c ' + e.message);
			return;
		}
		sock.binaryType = 'arraybuffer';
		ws = sock;
		setConnected(false);
		setState(ui.connState, 'pending', 'connecting to 127.0.0.1:' + port + '…');

		sock.onopen = () => {
			setState(ui.connState, 'pending', 'authenticating…');
			// The first message must be the auth handshake, within 5 s.
			request('auth', {auth_handshake: {token}}, (li, msg) => {
				if (msg.payload === 'auth_handshake_response' &&
				    msg.auth_handshake_response.success) {
					finish(li, true, 'authenticated');
					setState(ui.connState, 'ok', '\u2705 connected to port ' + port);
					setConnected(true);
					loadAll();
				} else if (msg.payload === 'auth_handshake_response') {
					finish(li, false, msg.auth_handshake_response.error ||
					    'rejected');
				} else if (msg.payload === 'error') {
					finish(li, false, msg.error.code + ': ' + msg.error.message);
				} else {
					finish(li, false, 'unexpected reply: ' +
					    (msg.payload || 'empty'));
				}
			});
		};
		sock.onmessage = (m) => {
			if (ws !== sock)
				return;
			if (!(m.data instanceof ArrayBuffer)) {
				logEvent('text', 'a text message (not protobuf): ignored');
				return;
			}
			let msg;
			try {
				msg = ServerMessage.decode(new Uint8Array(m.data));
			} catch (e) {
				logEvent('undecodable', e.message);
				return;
			}
			if (num(msg.request_id) === 0)
				onEvent(msg);
			else
				onReply(msg);
		};
		sock.onclose = (c) => {
			if (ws !== sock)
				return;
			ws = null;
			const why = 'closed ' + c.code + (c.reason ? ' ' + c.reason : '');
			for (const [rid, p] of pending) {
				clearTimeout(p.timer);
				finish(p.li, false, 'connection ' + why);
				pending.delete(rid);
			}
			// 1006 before any message: refused, 403 (origin) or 404.
			const hint = c.code === 1006 ? ' \u2014 is ocbroker on that port, ' +
			    'started with --allow-origin ' + pageOrigin + '?' : '';
			setState(ui.connState, c.code === 1000 ? 'closed' : 'error',
			    (c.code === 1000 ? '' : '\u274c ') + why + hint);
			setConnected(false);
		};
	}

	function disconnect() {
		if (ws)
			ws.close(1000, 'bye');
	}

	// ---- operations ----

	function health() {
		request('health', {health_check: {}}, expect('upstream_health', (h) => ({
			ok: h.healthy,
			text: (h.healthy ? 'healthy' : 'NOT healthy') + ', OpenCode ' + h.version,
		})));
	}

	function listSessions() {
		request('sessions', {list_sessions: {}}, expect('session_list', (l) => {
			sessions.clear();
			for (const s of l.sessions)
				sessions.set(s.id, s);
			renderSessions();
			return {text: count(l.sessions.length, 'session') + (l.sessions.length ?
			    ': ' + listText(l.sessions, (s) => s.id +
			    (s.title ? ' ' + quoted(s.title) : '')) : '')};
		}));
	}

	function statusList() {
		request('statuses', {list_session_status: {}},
		    expect('session_status_list', (l) => {
			statuses.clear();
			for (const s of l.statuses)
				statuses.set(s.session_id, s.status);
			renderSessions();
			return {text: count(l.statuses.length, 'session') + ' not idle'};
		}));
	}

	function agents() {
		request('agents', {list_agents: {}}, expect('agent_list', (l) => ({
			text: count(l.agents.length, 'agent') + ': ' + listText(l.agents,
			    (a) => a.name + (a.mode ? ' (' + a.mode + ')' : '')),
		})));
	}

	function providers() {
		request('providers', {get_provider_status: {}},
		    expect('provider_status', (p) => ({
			text: p.connected.length ? 'connected: ' +
			    listText(p.connected, (c) => c) : 'no provider connected',
		})));
	}

	// The model picker: every model of every connected provider, its value
	// "provider/model" (a provider id has no "/"; a model id may).
	function models() {
		request('models', {list_providers: {}}, expect('provider_list', (l) => {
			const keep = ui.model.value;
			const opts = [el('option', null, '(server default)')];
			opts[0].value = '';
			let n = 0;
			for (const p of l.providers) {
				for (const m of p.models) {
					const o = el('option', null, p.id + '/' + m.id +
					    (m.name ? ' \u2014 ' + m.name : '') +
					    (m.id === p.default_model_id ? ' (default)' : ''));
					o.value = p.id + '/' + m.id;
					opts.push(o);
					n++;
				}
			}
			ui.model.replaceChildren(...opts);
			ui.model.value = opts.some((o) => o.value === keep) ? keep : '';
			return {text: count(n, 'model') + ' from ' +
			    count(l.providers.length, 'provider') + ': ' +
			    listText(l.providers, (p) => p.id)};
		}));
	}

	function pendingList() {
		request('pending', {list_pending: {}}, expect('pending_list', (l) => {
			for (const id of [...waiting.keys()])
				dropCard(id);
			for (const p of l.permissions)
				showPermission(p);
			for (const q of l.questions)
				showQuestion(q);
			return {text: count(l.questions.length, 'question') + ', ' +
			    count(l.permissions.length, 'permission')};
		}));
	}

	function todos() {
		const sid = sessionId;
		request('todos', {get_todos: {session_id: sid}}, expect('todo_list', (l) => {
			if (sid === sessionId)
				showTodos(l);
			return {text: count(l.todos.length, 'todo')};
		}));
	}

	// What a (re)connected page needs to show the state it missed.
	function loadAll() {
		listSessions();
		statusList();
		models();
		pendingList();
		if (sessionId)
			pick(sessionId);
	}

	function create() {
		const title = ui.title.value.trim();
		const req = title ? {title} : {};
		request('create', {create_session: req}, expectSession((s) => {
			pick(s.id);
			return {text: s.id + (s.title ? ' ' + quoted(s.title) : '') +
			    ', created ' + new Date(num(s.created_at)).toISOString()};
		}));
	}

	function needSession(op) {
		if (sessionId)
			return true;
		refuse(op, 'create or pick a session first');
		return false;
	}

	function rename() {
		const title = ui.title.value.trim();
		if (!needSession('rename'))
			return;
		if (!title) {
			refuse('rename', 'enter the new title');
			return;
		}
		request('rename', {update_session: {session_id: sessionId, title}},
		    expectSession((s) => ({text: s.id + ' is now ' +
		    quoted(s.title || '')})));
	}

	function fork() {
		if (!needSession('fork'))
			return;
		request('fork', {fork_session: {session_id: sessionId}},
		    expectSession((s) => {
			pick(s.id);
			return {text: 'forked into ' + s.id +
			    (s.title ? ' ' + quoted(s.title) : '')};
		}));
	}

	// Reverts the last prompt and everything after it; OpenCode drops those
	// messages (MessageRemoved) with the next prompt, or Unrevert keeps them.
	function revert() {
		const mid = transcript.lastUserId();
		if (!needSession('revert'))
			return;
		if (!mid) {
			refuse('revert', 'no prompt to revert');
			return;
		}
		request('revert', {revert_session: {session_id: sessionId, message_id: mid}},
		    expectSession((s) => {
			transcript.markReverted(mid);
			return {text: 'reverted to before ' + mid};
		}));
	}

	function unrevert() {
		if (!needSession('unrevert'))
			return;
		request('unrevert', {unrevert_session: {session_id: sessionId}},
		    expectSession(() => {
			transcript.markReverted(null);
			return {text: 'nothing reverted'};
		}));
	}

	function send() {
		const text = ui.message.value;
		if (!needSession('send'))
			return;
		if (!text.trim()) {
			refuse('send', 'the message is empty');
			return;
		}
		const req = {session_id: sessionId, text};
		const model = ui.model.value;
		if (model) {
			const slash = model.indexOf('/');
			req.provider_id = model.slice(0, slash);
			req.model_id = model.slice(slash + 1);
		}
		transcript.markReverted(null);
		transcript.localPrompt(text);
		request('send', {send_message: req}, expect(null, () => ({
			text: 'accepted' + (model ? ' for ' + model : '') +
			    '; the answer streams below',
		})));
	}

	function cancel() {
		if (!needSession('cancel'))
			return;
		request('cancel', {cancel_request: {session_id: sessionId}},
		    expect(null, () => ({text: 'aborted'})));
	}

	ui.origin.textContent = pageOrigin;
	ui.form.addEventListener('submit', connect);
	ui.disconnect.addEventListener('click', disconnect);
	const ops = {
		'op-health': health, 'op-sessions': listSessions, 'op-agents': agents,
		'op-providers': providers, 'op-pending': pendingList, 'op-models': models,
		'op-create': create, 'op-rename': rename, 'op-fork': fork,
		'op-revert': revert, 'op-unrevert': unrevert, 'op-send': send,
		'op-cancel': cancel, 'op-older': older,
	};
	for (const [id, fn] of Object.entries(ops))
		$(id).addEventListener('click', fn);
	ui.message.addEventListener('keydown', (e) => {
		if (e.key === 'Enter' && e.ctrlKey) {
			e.preventDefault();
			send();
		}
	});
	loadSchema();
}());
