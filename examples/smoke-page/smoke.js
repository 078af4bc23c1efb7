// ocbroker smoke page: one WebSocket, binary protobuf (proto/messages.proto,
// compiled to static code by protobufjs's pbjs: messages.js), every reply
// matched to its request by request_id, events (request_id 0) shown as they
// come.
//
// Everything that comes from the network or the user is put into the page
// with textContent or text nodes, never as HTML.
'use strict';

(function () {
	const REQUEST_TIMEOUT_MS = 60000;	// ocbroker answers within ~30 s
	const MAX_EVENTS = 200;
	const MAX_LIST = 8;			// names shown in a list reply

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
		message: $('message'),
		transcript: $('transcript'),
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
	let lastMessageId = null;	// the assistant message being streamed
	const pending = new Map();	// request_id -> {op, li, timer, done}

	// ---- small helpers ----

	// uint64/int64 fields are numbers in the browser build and Long objects
	// where the long package is present.
	function num(v) {
		if (v === null || v === undefined)
			return 0;
		return typeof v === 'object' ? Number(v.toString()) : Number(v);
	}

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined)
			e.textContent = text;
		return e;
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

	function transcript(text, cls) {
		const pre = ui.transcript;
		if (!pre.firstChild)
			text = text.replace(/^\n+/, '');
		if (cls)
			pre.append(el('span', cls, text));
		else
			pre.append(document.createTextNode(text));
		pre.scrollTop = pre.scrollHeight;
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
			finish(resultLine(op, 0), false, 'not connected');
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

	// ---- events (request_id 0) ----

	function onEvent(msg) {
		const kind = msg.payload || 'empty';
		const e = msg[kind];
		switch (kind) {
		case 'token':
			if (e.session_id !== sessionId)
				return;
			if (e.message_id !== lastMessageId) {
				lastMessageId = e.message_id;
				transcript('\nassistant: ', 'who');
			}
			transcript(e.delta);
			return;
		case 'completed': {
			const how = e.error ? 'ended with ' + e.error :
			    'completed: ' + (e.finish || 'no finish') + ', ' +
			    num(e.input_tokens) + ' in / ' + num(e.output_tokens) + ' out';
			if (e.session_id === sessionId) {
				transcript('\n[' + how + ']\n', e.error ? 'end error' : 'end ok');
				lastMessageId = null;
			}
			logEvent(kind, e.session_id + ' ' + e.message_id + ' ' + how);
			return;
		}
		case 'tool_call':
			logEvent(kind, e.session_id + ' ' + e.tool + ' ' + e.status +
			    (e.title ? ' ' + quoted(e.title) : ''));
			return;
		case 'permission_request':
			logEvent(kind, e.session_id + ' ' + e.permission + ' ' +
			    e.patterns.join(' '));
			return;
		case 'session_event':
			logEvent(kind, e.session_id + ' ' + e.kind +
			    (e.status ? ' ' + e.status : '') +
			    (e.error_name ? ' ' + e.error_name : '') +
			    (e.info && e.info.title ? ' ' + quoted(e.info.title) : ''));
			return;
		case 'upstream_status':
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

	function sessions() {
		request('sessions', {list_sessions: {}}, expect('session_list', (l) => ({
			text: count(l.sessions.length, 'session') + (l.sessions.length ? ': ' +
			    listText(l.sessions, (s) => s.id +
			    (s.title ? ' ' + quoted(s.title) : '')) : ''),
		})));
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

	function create() {
		const title = ui.title.value.trim();
		const req = title ? {title} : {};
		request('create', {create_session: req}, expect('session_info', (s) => {
			sessionId = s.id;
			lastMessageId = null;
			ui.sessionId.textContent = s.id;
			transcript('\n\u2014 session ' + s.id +
			    (s.title ? ' ' + quoted(s.title) : '') + ' \u2014\n', 'sys');
			return {text: s.id + (s.title ? ' ' + quoted(s.title) : '') +
			    ', created ' + new Date(num(s.created_at)).toISOString()};
		}));
	}

	function needSession(op) {
		if (sessionId)
			return true;
		finish(resultLine(op, 0), false, 'create a session first');
		return false;
	}

	function send() {
		const text = ui.message.value;
		if (!needSession('send'))
			return;
		if (!text.trim()) {
			finish(resultLine('send', 0), false, 'the message is empty');
			return;
		}
		transcript('\nyou: ', 'who');
		transcript(text + '\n');
		lastMessageId = null;
		request('send', {send_message: {session_id: sessionId, text}},
		    expect(null, () => ({text: 'accepted; the answer streams below'})));
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
	$('op-health').addEventListener('click', health);
	$('op-sessions').addEventListener('click', sessions);
	$('op-agents').addEventListener('click', agents);
	$('op-providers').addEventListener('click', providers);
	$('op-create').addEventListener('click', create);
	$('op-send').addEventListener('click', send);
	$('op-cancel').addEventListener('click', cancel);
	ui.message.addEventListener('keydown', (e) => {
		if (e.key === 'Enter' && e.ctrlKey) {
			e.preventDefault();
			send();
		}
	});
	loadSchema();
}());
