// Copyright (c) 2026 The ocbroker authors
// SPDX-License-Identifier: ISC (the licence is in the file LICENSE)

// Shared by the browser test and the ws client check: start ocbroker, load
// the schema, serve the smoke page, count checks.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import protobuf from 'protobufjs';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const srcdir = path.resolve(here, '..', '..');

export function env(name, dflt) {
	const v = process.env[name];
	if (v !== undefined && v !== '')
		return v;
	if (dflt === undefined)
		throw new Error(`environment variable ${name} is not set`);
	return dflt;
}

// ---- checks: "ok N - what" / "not ok N - what", and a closing count ----

export class Checks {
	constructor(name) {
		this.name = name;
		this.passed = 0;
		this.failed = 0;
	}

	ok(cond, what, detail) {
		const n = this.passed + this.failed + 1;
		if (cond) {
			this.passed++;
			console.log(`ok ${n} - ${what}`);
		} else {
			this.failed++;
			console.log(`not ok ${n} - ${what}${detail ? ': ' + detail : ''}`);
		}
		return cond;
	}

	// Runs fn; a throw is one failed check.
	async step(what, fn) {
		try {
			const detail = await fn();
			return this.ok(true, what + (detail ? ` (${detail})` : ''));
		} catch (e) {
			return this.ok(false, what, e && e.message ? e.message.split('\n')[0] : String(e));
		}
	}

	summary() {
		console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed`);
		return this.failed === 0 && this.passed > 0;
	}
}

// ---- the schema ----

export function loadSchema() {
	const text = fs.readFileSync(path.join(srcdir, 'proto', 'messages.proto'), 'utf8');
	const root = protobuf.parse(text, {keepCase: true}).root;
	return {
		ClientMessage: root.lookupType('opencode.ClientMessage'),
		ServerMessage: root.lookupType('opencode.ServerMessage'),
	};
}

// uint64 fields decode to Long objects in Node (the long package is there).
export function num(v) {
	if (v === null || v === undefined)
		return 0;
	return typeof v === 'object' ? Number(v.toString()) : Number(v);
}

// ---- ocbroker ----

function waitExit(child, ms) {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null) {
			resolve({code: child.exitCode, signal: child.signalCode});
			return;
		}
		const t = setTimeout(() => resolve(null), ms);
		child.once('exit', (code, signal) => {
			clearTimeout(t);
			resolve({code, signal});
		});
	});
}

// Starts OCBROKER on a free port in front of upstream and waits for its
// ready line. stderr (the log) goes to logFile. Returns {port, token,
// version, pid, stop()}; stop() sends SIGTERM to that pid only and
// resolves to the exit status (SIGKILL after 10 s).
export async function startOcbroker({ocbroker, upstream, allowOrigins = [], logFile}) {
	const args = ['--port', '0', '--upstream', upstream, '--log-level', 'info'];
	for (const o of allowOrigins)
		args.push('--allow-origin', o);
	const log = fs.openSync(logFile, 'a');
	const child = spawn(ocbroker, args, {stdio: ['ignore', 'pipe', log]});
	fs.closeSync(log);
	const ready = await new Promise((resolve, reject) => {
		let buf = '';
		const t = setTimeout(() => reject(new Error(
		    `no ready line from ocbroker in 20 s (log ${logFile})`)), 20000);
		child.stdout.setEncoding('utf8');
		child.stdout.on('data', (d) => {
			buf += d;
			const nl = buf.indexOf('\n');
			if (nl < 0)
				return;
			clearTimeout(t);
			try {
				resolve(JSON.parse(buf.slice(0, nl)));
			} catch (e) {
				reject(new Error('ocbroker\'s ready line is not JSON'));
			}
		});
		child.once('exit', (code, signal) => {
			clearTimeout(t);
			reject(new Error(`ocbroker exited (${code ?? signal}) before ` +
			    `its ready line (log ${logFile})`));
		});
		child.once('error', (e) => {
			clearTimeout(t);
			reject(e);
		});
	}).catch(async (e) => {
		child.kill('SIGKILL');
		await waitExit(child, 5000);
		throw e;
	});
	if (ready.ready !== true || !Number.isInteger(ready.port) ||
	    typeof ready.token !== 'string' || !/^[0-9a-f]{64}$/.test(ready.token)) {
		child.kill('SIGKILL');
		throw new Error('unexpected ready line from ocbroker');
	}
	child.stdout.resume();	// nothing more should come; don't block it
	return {
		port: ready.port,
		token: ready.token,
		version: ready.version,
		pid: child.pid,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null)
				return {code: child.exitCode, signal: child.signalCode};
			child.kill('SIGTERM');
			let st = await waitExit(child, 10000);
			if (st === null) {
				child.kill('SIGKILL');
				st = await waitExit(child, 5000);
				return {code: null, signal: 'SIGKILL', ...st, timedOut: true};
			}
			return st;
		},
	};
}

// ---- a static server for the smoke page ----

const TYPES = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
};

// Serves only the files the page needs, at the paths they have in the
// checkout (as `python3 -m http.server` run at its top would), on
// 127.0.0.1 and a free port. Resolves to {origin, pageUrl, close()}.
export async function serveSmokePage() {
	const page = 'examples/smoke-page';
	const files = new Map();
	for (const f of [`${page}/index.html`, `${page}/smoke.js`, `${page}/smoke.css`,
	    `${page}/transcript.js`, `${page}/messages.js`,
	    `${page}/node_modules/protobufjs/dist/minimal/protobuf.min.js`])
		files.set('/' + f, path.join(srcdir, f));
	const missing = [...files.values()].filter((f) => !fs.existsSync(f));
	if (missing.length)
		throw new Error('missing ' + missing.join(', ') +
		    ' (npm ci && npm run build in examples/smoke-page?)');
	const server = http.createServer((req, res) => {
		const url = new URL(req.url, 'http://127.0.0.1');
		let p = url.pathname;
		if (p === `/${page}/`)
			p += 'index.html';
		const file = files.get(p);
		if ((req.method !== 'GET' && req.method !== 'HEAD') || !file) {
			res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405,
			    {'Content-Type': 'text/plain', 'Content-Length': '0'});
			res.end();
			return;
		}
		const body = fs.readFileSync(file);
		res.writeHead(200, {
			'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
			'Content-Length': String(body.length),
			'Cache-Control': 'no-store',
			'X-Content-Type-Options': 'nosniff',
		});
		res.end(req.method === 'HEAD' ? undefined : body);
	});
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	const origin = `http://127.0.0.1:${server.address().port}`;
	return {
		origin,
		pageUrl: `${origin}/${page}/`,
		close: () => new Promise((resolve) => {
			server.closeAllConnections();
			server.close(() => resolve());
		}),
	};
}
