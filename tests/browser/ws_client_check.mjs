// Copyright (c) 2026 The ocbroker authors
// SPDX-License-Identifier: ISC (the licence is in the file LICENSE)

// A second, independent client: npm `ws` + protobufjs against the real
// ocbroker (OCBROKER) in front of a real OpenCode server (OPENCODE_URL).
// The opening handshake (no extension, no subprotocol, even though `ws`
// offers permessage-deflate), the auth handshake, two requests in flight at
// once matched by request_id, one protocol v2 request (ListProviders: the
// mock provider and its model), a clean close; and the refusals a native
// client can see: a foreign Origin (403) and a wrong token (1008).
//
// usage: OCBROKER=... OPENCODE_URL=... [OUT_DIR=...] node ws_client_check.mjs
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import {Checks, env, loadSchema, num, srcdir, startOcbroker} from './lib.mjs';

const STEP_MS = 30000;
const ocbroker = env('OCBROKER');
const upstream = env('OPENCODE_URL');
const outDir = env('OUT_DIR', path.join(srcdir, 'build-test', 'browser'));
const {ClientMessage, ServerMessage} = loadSchema();
const t = new Checks('ws_client_check');

function encode(fields) {
	const err = ClientMessage.verify(fields);
	if (err)
		throw new Error(err);
	return ClientMessage.encode(ClientMessage.create(fields)).finish();
}

// A connection that queues decoded ServerMessages for next().
function open(port, opts = {}) {
	const sock = new WebSocket(`ws://127.0.0.1:${port}/`, opts);
	const queue = [];
	const waiters = [];
	let closed = null;
	const wake = () => {
		while (waiters.length && (queue.length || closed))
			waiters.shift()();
	};
	sock.on('message', (data, isBinary) => {
		queue.push(isBinary ? ServerMessage.decode(data) : {text: String(data)});
		wake();
	});
	sock.on('close', (code, reason) => {
		closed = {code, reason: reason.toString()};
		wake();
	});
	const opened = new Promise((resolve, reject) => {
		sock.once('open', resolve);
		sock.once('unexpected-response', (req, res) =>
			reject(Object.assign(new Error(`HTTP ${res.statusCode}`),
			    {status: res.statusCode})));
		sock.once('error', reject);
	});
	return {
		sock,
		opened,
		send: (fields) => sock.send(encode(fields)),
		// The next message, or null once closed and drained.
		next(ms = STEP_MS) {
			return new Promise((resolve, reject) => {
				const t0 = setTimeout(() => reject(new Error(
				    `no message in ${ms / 1000} s`)), ms);
				const take = () => {
					clearTimeout(t0);
					resolve(queue.length ? queue.shift() : null);
				};
				if (queue.length || closed)
					take();
				else
					waiters.push(take);
			});
		},
		// The close, skipping any message before it.
		async closedWith(ms = STEP_MS) {
			while (await this.next(ms) !== null)
				;
			return closed;
		},
	};
}

// The next reply that is not an event (request_id 0 is an event).
async function reply(c) {
	for (;;) {
		const m = await c.next();
		if (m === null)
			throw new Error('the connection closed');
		if (m.text !== undefined)
			throw new Error('a text message');
		if (num(m.request_id) !== 0)
			return m;
	}
}

fs.mkdirSync(outDir, {recursive: true});
const logFile = path.join(outDir, 'ocbroker-ws-client.log');
fs.rmSync(logFile, {force: true});
let broker = null;
try {
	broker = await startOcbroker({ocbroker, upstream, logFile});
	t.ok(true, `ocbroker ${broker.version} ready on port ${broker.port}`);

	await t.step('a native client: handshake, auth, two requests, close', async () => {
		const c = open(broker.port, {perMessageDeflate: true});
		await c.opened;
		if (c.sock.extensions !== '')
			throw new Error(`extensions accepted: ${c.sock.extensions}`);
		if (c.sock.protocol !== '')
			throw new Error(`subprotocol chosen: ${c.sock.protocol}`);
		t.ok(true, 'opening handshake: 101, no extension (permessage-deflate ' +
		    'was offered), no subprotocol');

		c.send({request_id: 1, auth_handshake: {token: broker.token}});
		const a = await reply(c);
		if (num(a.request_id) !== 1 || a.payload !== 'auth_handshake_response' ||
		    !a.auth_handshake_response.success)
			throw new Error(`auth failed: ${JSON.stringify(a.toJSON())}`);
		t.ok(true, 'auth handshake: success with request_id 1');

		// Two requests in flight; replies in any order, by request_id.
		c.send({request_id: 41, list_sessions: {}});
		c.send({request_id: 42, health_check: {}});
		const got = new Map();
		for (let i = 0; i < 2; i++) {
			const m = await reply(c);
			got.set(num(m.request_id), m);
		}
		const h = got.get(42);
		t.ok(h && h.payload === 'upstream_health' && h.upstream_health.healthy &&
		    h.upstream_health.version !== '',
		    `HealthCheck (request_id 42): healthy, OpenCode ${h && h.upstream_health ?
		    h.upstream_health.version : '?'}`, h && JSON.stringify(h.toJSON()));
		const l = got.get(41);
		t.ok(l && l.payload === 'session_list' && Array.isArray(l.session_list.sessions),
		    `ListSessions (request_id 41): ${l && l.session_list ?
		    l.session_list.sessions.length : '?'} sessions`,
		    l && JSON.stringify(l.toJSON()));

		// One protocol v2 request: the model list a picker is filled from.
		c.send({request_id: 43, list_providers: {}});
		const pl = await reply(c);
		const mock = pl.payload === 'provider_list' &&
		    pl.provider_list.providers.find((p) => p.id === 'mock');
		t.ok(num(pl.request_id) === 43 && mock && mock.connected &&
		    mock.models.some((m) => m.id === 'mock-1'),
		    'ListProviders (request_id 43, protocol v2): ' + (pl.provider_list ?
		    pl.provider_list.providers.map((p) => p.id + '[' +
		    p.models.map((m) => m.id).join(',') + ']').join(' ') : ''),
		    JSON.stringify(pl.toJSON()).slice(0, 300));

		c.sock.close(1000, 'done');
		const cl = await c.closedWith();
		if (cl.code !== 1000)
			throw new Error(`close echoed with ${cl.code}, not 1000`);
		return 'close 1000 echoed';
	});

	await t.step('a foreign Origin is refused with 403', async () => {
		const c = open(broker.port, {origin: 'http://evil.example'});
		try {
			await c.opened;
		} catch (e) {
			if (e.status === 403)
				return;
			throw e;
		}
		c.sock.terminate();
		throw new Error('the upgrade succeeded');
	});

	await t.step('a wrong token: success false, then close 1008', async () => {
		const c = open(broker.port);
		await c.opened;
		c.send({request_id: 7, auth_handshake: {token: '0'.repeat(64)}});
		const a = await reply(c);
		if (num(a.request_id) !== 7 || a.payload !== 'auth_handshake_response' ||
		    a.auth_handshake_response.success)
			throw new Error(`unexpected: ${JSON.stringify(a.toJSON())}`);
		const cl = await c.closedWith();
		if (cl.code !== 1008)
			throw new Error(`closed with ${cl.code}, not 1008`);
		return a.auth_handshake_response.error;
	});
} catch (e) {
	t.ok(false, 'ws client check', e.message);
} finally {
	if (broker) {
		const st = await broker.stop();
		t.ok(st.code === 0, 'ocbroker exits 0 on SIGTERM', JSON.stringify(st));
	}
}
process.exit(t.summary() ? 0 : 1);
