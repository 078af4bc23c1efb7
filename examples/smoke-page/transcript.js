// Copyright (c) 2026 The ocbroker authors
// SPDX-License-Identifier: ISC (the licence is in the file LICENSE)

// The transcript of one session: its messages and their parts, kept by id
// and shown in id order (OpenCode's ids grow with time). History
// (ListMessages) and events (ChatToken, MessageInfo, PartInfo,
// ToolCallEvent, ChatCompleted, MessageRemoved, PartRemoved) change the same
// state the same way, so a transcript rebuilt from history after a reload
// reads exactly like the one that was streamed: the view is made from the
// state only, never from the order things arrived in.
//
// No network here, and no HTML: every string goes in with textContent.
'use strict';

window.SmokeTranscript = function (root, num) {
	const OUTPUT_SHOWN = 300;	// characters of a tool's output shown
	const HIDDEN = new Set(['step-start', 'step-finish', 'snapshot']);
	const msgs = new Map();	// id -> {info, parts: Map(id -> part), node}
	let localSeq = 0;
	let revertedFrom = null;

	const el = window.SmokeTranscript.el;

	function quoted(s) {
		return '\u201c' + s + '\u201d';
	}

	// The node among siblings (each with data-id) that id goes before.
	function insertSorted(parent, node, id) {
		for (const n of parent.children) {
			if (n.dataset.id > id) {
				parent.insertBefore(node, n);
				return;
			}
		}
		parent.append(node);
	}

	// ---- the view, from the state ----

	function headText(info) {
		if (info.role === 'user')
			return 'you:';
		const model = info.provider_id && info.model_id ?
		    ' (' + info.provider_id + '/' + info.model_id + ')' : '';
		return (info.role || 'assistant') + model + ':';
	}

	// What ends an assistant message: its error, or its finish and tokens.
	function footText(info) {
		if (info.role === 'user')
			return null;
		if (info.error_name)
			return '[ended with ' + info.error_name + ']';
		if (!num(info.completed_at))
			return null;
		return '[completed: ' + (info.finish || 'no finish') + ', ' +
		    num(info.input_tokens) + ' in / ' + num(info.output_tokens) + ' out]';
	}

	function partNode(p) {
		if (HIDDEN.has(p.kind))
			return null;
		const n = el('div', 'part');
		n.dataset.id = p.id;
		n.dataset.kind = p.kind;
		switch (p.kind) {
		case 'text':
			n.textContent = p.text || '';
			if (p.synthetic)
				n.classList.add('synthetic');
			break;
		case 'reasoning':
			n.append(el('span', 'label', 'thinking'),
			    el('span', 'body', p.text || ''));
			break;
		case 'tool': {
			const t = p.tool || {};
			n.dataset.status = t.status || '';
			n.append(el('div', 'call', '\u2699 ' + t.tool + ' ' + t.status +
			    (t.title ? ' ' + quoted(t.title) : '') +
			    (t.error ? ' \u2014 ' + t.error : '')));
			if (t.output) {
				const o = t.output.length > OUTPUT_SHOWN ?
				    t.output.slice(0, OUTPUT_SHOWN) + '\u2026' : t.output;
				n.append(el('div', 'out', o));
			}
			break;
		}
		case 'file':
			n.textContent = '\ud83d\udcce ' + (p.file ? p.file.filename +
			    ' (' + p.file.mime + ')' : 'file');
			break;
		case 'patch':
			n.textContent = 'patch: ' + p.files.join(', ');
			break;
		default:
			n.textContent = '[' + p.kind + ']';
			n.classList.add('sys');
		}
		if (p.truncated || (p.tool && p.tool.truncated))
			n.append(el('span', 'sys', ' [cut]'));
		return n;
	}

	function renderPart(m, p) {
		const n = partNode(p);
		if (p.node)
			p.node.remove();
		p.node = n;
		if (n)
			insertSorted(m.partsNode, n, p.id);
	}

	function renderInfo(m) {
		const info = m.info;
		m.node.dataset.role = info.role || '';
		m.head.textContent = headText(info);
		const f = footText(info);
		m.foot.textContent = f || '';
		m.foot.className = 'foot end ' + (info.error_name ? 'error' : 'ok');
		m.foot.hidden = !f;
		m.node.classList.toggle('reverted',
		    revertedFrom !== null && m.info.id >= revertedFrom);
	}

	function getMessage(id, role) {
		let m = msgs.get(id);
		if (m)
			return m;
		m = {info: {id, role}, parts: new Map()};
		m.node = el('div', 'msg');
		m.node.dataset.id = id;
		m.head = el('div', 'who');
		m.partsNode = el('div', 'parts');
		m.foot = el('div', 'foot');
		m.node.append(m.head, m.partsNode, m.foot);
		msgs.set(id, m);
		insertSorted(root, m.node, id);
		renderInfo(m);
		return m;
	}

	// A prompt from the server replaces the page's own copies of prompts.
	function dropLocal() {
		for (const [id, m] of msgs) {
			if (id.startsWith('~')) {
				m.node.remove();
				msgs.delete(id);
			}
		}
	}

	function setPart(p) {
		const m = getMessage(p.message_id, 'assistant');
		if (m.info.role === 'user' && !m.local)
			dropLocal();
		const old = m.parts.get(p.id);
		const q = Object.assign({}, p, {node: old ? old.node : null});
		m.parts.set(p.id, q);
		renderPart(m, q);
	}

	function setInfo(info) {
		if (info.role === 'user')
			dropLocal();
		const m = getMessage(info.id, info.role);
		m.info = info;
		renderInfo(m);
	}

	function scroll() {
		root.scrollTop = root.scrollHeight;
	}

	return {
		clear() {
			msgs.clear();
			root.replaceChildren();
			revertedFrom = null;
		},

		// A MessageList page: messages oldest first, each with its parts.
		load(list) {
			for (const mw of list.messages) {
				setInfo(mw.info);
				for (const p of mw.parts)
					setPart(p);
			}
		},

		message(info) {
			setInfo(info);
			scroll();
		},

		part(p) {
			setPart(p);
			scroll();
		},

		// A delta appends to its part's text; a part not seen yet is made
		// with the token's kind.
		token(t) {
			const m = getMessage(t.message_id, 'assistant');
			let p = m.parts.get(t.part_id);
			if (!p) {
				p = {id: t.part_id, message_id: t.message_id,
				    session_id: t.session_id, kind: t.kind || 'text',
				    text: '', files: [], node: null};
				m.parts.set(p.id, p);
			}
			p.text = (p.text || '') + t.delta;
			renderPart(m, p);
			scroll();
		},

		// A tool call replaces its part.
		tool(t) {
			const id = t.part_id || 'call:' + t.call_id;
			setPart({id, message_id: t.message_id, session_id: t.session_id,
			    kind: 'tool', tool: t, files: []});
			scroll();
		},

		// The end of an assistant message, for a server that sends no
		// MessageInfo for it (a MessageInfo that says so already wins).
		completed(c) {
			const m = getMessage(c.message_id, 'assistant');
			if (num(m.info.completed_at) || m.info.error_name)
				return;
			m.info = Object.assign({}, m.info, {finish: c.finish,
			    input_tokens: c.input_tokens, output_tokens: c.output_tokens,
			    error_name: c.error, completed_at: 1});
			renderInfo(m);
			scroll();
		},

		removeMessage(id) {
			const m = msgs.get(id);
			if (m) {
				m.node.remove();
				msgs.delete(id);
			}
		},

		removePart(messageId, partId) {
			const m = msgs.get(messageId);
			const p = m && m.parts.get(partId);
			if (p) {
				if (p.node)
					p.node.remove();
				m.parts.delete(partId);
			}
		},

		// The page's own copy of a prompt until the server's arrives.
		localPrompt(text) {
			const id = '~local' + ++localSeq;
			const m = getMessage(id, 'user');
			m.local = true;
			m.node.classList.add('local');
			m.parts.set(id, {id, kind: 'text', text, node: null});
			renderPart(m, m.parts.get(id));
			scroll();
		},

		// Messages from id on are shown struck through (RevertSession);
		// null shows them all again.
		markReverted(id) {
			revertedFrom = id;
			for (const m of msgs.values())
				renderInfo(m);
		},

		oldestId() {
			let o = null;
			for (const id of msgs.keys())
				if (!id.startsWith('~') && (o === null || id < o))
					o = id;
			return o;
		},

		lastUserId() {
			let u = null;
			for (const [id, m] of msgs)
				if (!m.local && m.info.role === 'user' && (u === null || id > u))
					u = id;
			return u;
		},
	};
};

// An element with a class and a text (textContent: never HTML); smoke.js
// builds its own nodes with it too.
window.SmokeTranscript.el = function (tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
};
