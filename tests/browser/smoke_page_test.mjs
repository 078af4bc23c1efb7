// Copyright (c) 2026 The ocbroker authors
// SPDX-License-Identifier: ISC (the licence is in the file LICENSE)

// The smoke page (examples/smoke-page) in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded)
// against the real ocbroker (OCBROKER) in front of a real OpenCode server
// (OPENCODE_URL) with the mock model.
//
// It serves the page on 127.0.0.1, starts ocbroker with --allow-origin for
// that origin, fills in the port and token from the ready line and clicks
// through every operation; each must show ✅ with its own request_id. The
// mock's "text" answer must stream into the transcript; a "slow" answer is
// cancelled. Then the page as a chat client (protocol v2): pick the model
// from ListProviders, send "full" (reasoning, todowrite, question, bash with
// a permission, text), answer the question and the permission in their
// cards, see the todos and the reasoning apart from the answer; reload the
// page, pick the session again (history in pages of 3, "load older") and
// the transcript must read exactly as it did when it was streamed. A
// question and a permission request left open survive a reload
// (ListPending); rename, fork, revert, reject a question.
// Also: a wrong token shows ❌, a page from an origin that is not allowed
// cannot connect, and the page logs no error and breaks no CSP rule.
// Screenshots: $OUT_DIR/smoke-page.png (after the "full" run) and
// smoke-page-reloaded.png (rebuilt from history).
//
// usage: OCBROKER=... OPENCODE_URL=... [OUT_DIR=...] [CHROMIUM=...]
//        node smoke_page_test.mjs
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {Checks, env, serveSmokePage, srcdir, startOcbroker} from './lib.mjs';

const HELLO = 'Hello from the mock language model.';
const THOUGHT = 'The user wants a thought first.';
const ASKED = 'The command printed a greeting.';	// "ask", once allowed
const OP_MS = 30000;		// one request's reply
const STREAM_MS = 60000;	// a streamed answer
const ocbroker = env('OCBROKER');
const upstream = env('OPENCODE_URL');
const outDir = env('OUT_DIR', path.join(srcdir, 'build-test', 'browser'));
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const t = new Checks('smoke_page_test');

fs.mkdirSync(outDir, {recursive: true});
const logFile = path.join(outDir, 'ocbroker-smoke-page.log');
const shot = path.join(outDir, 'smoke-page.png');
const shot2 = path.join(outDir, 'smoke-page-reloaded.png');
fs.rmSync(logFile, {force: true});
fs.rmSync(shot, {force: true});
fs.rmSync(shot2, {force: true});

let site = null, foreign = null, broker = null, browser = null, page = null;
let shotTaken = false;
const consoleErrors = [];

// Clicks button and waits for the new line in the results list to leave
// "pending". Returns {op, rid, state, text}.
async function operate(page, button, op, ms = OP_MS) {
	const n = await page.locator('#results li').count();
	await page.click(button);
	await page.waitForFunction((i) => {
		const li = document.querySelectorAll('#results li')[i];
		return li && li.dataset.state !== 'pending';
	}, n, {timeout: ms});
	const li = page.locator('#results li').nth(n);
	const r = {
		op: await li.getAttribute('data-op'),
		rid: Number(await li.getAttribute('data-rid')),
		state: await li.getAttribute('data-state'),
		mark: await li.locator('.mark').textContent(),
		text: await li.locator('.detail').textContent(),
	};
	if (r.op !== op)
		throw new Error(`the new result line is "${r.op}", not "${op}"`);
	return r;
}

// The same, and it must be ✅; detail must match re.
const seen = new Set();
async function ok(page, button, op, re) {
	const r = await operate(page, button, op);
	if (r.state !== 'ok' || r.mark !== '\u2705')
		throw new Error(`shows ${r.mark} ${r.text}`);
	if (!Number.isInteger(r.rid) || r.rid <= 0 || seen.has(r.rid))
		throw new Error(`request_id ${r.rid} is not new`);
	seen.add(r.rid);
	if (re && !re.test(r.text))
		throw new Error(`"${r.text}" does not match ${re}`);
	return `\u2705 #${r.rid} ${r.text.slice(0, 100)}`;
}

// The transcript as it reads (innerText: one line per block).
function transcriptText(page) {
	return page.innerText('#transcript');
}

// Waits for the transcript to hold what: a string, or a RegExp.
function transcriptHas(page, what, ms = STREAM_MS) {
	const re = what instanceof RegExp ? what.source : null;
	return page.waitForFunction(([w, r]) => {
		const s = document.getElementById('transcript').innerText;
		return r !== null ? new RegExp(r).test(s) : s.includes(w);
	}, [String(what), re], {timeout: ms});
}

// Waits for the newest result line of op (sent by the page itself, not a
// click) to leave "pending"; it must be ✅ and match re.
async function lastResult(page, op, re, ms = OP_MS) {
	await page.waitForFunction((o) => {
		const ls = [...document.querySelectorAll('#results li')]
		    .filter((li) => li.dataset.op === o);
		return ls.length && ls[ls.length - 1].dataset.state !== 'pending';
	}, op, {timeout: ms});
	const li = page.locator(`#results li[data-op="${op}"]`).last();
	const state = await li.getAttribute('data-state');
	const text = await li.locator('.detail').textContent();
	if (state !== 'ok' || !re.test(text))
		throw new Error(`${op} shows ${state}: ${text}`);
	seen.add(Number(await li.getAttribute('data-rid')));
	return text;
}

// Every result line but the first `errors` shows ✅; request_ids unique.
async function allOk(page, errors) {
	const rows = await page.$$eval('#results li', (lis) => lis.map((li) =>
		({op: li.dataset.op, rid: li.dataset.rid, state: li.dataset.state,
		    text: li.querySelector('.detail').textContent})));
	const bad = rows.filter((r, i) => r.state !== (i < errors ? 'error' : 'ok'));
	if (bad.length)
		throw new Error(JSON.stringify(bad).slice(0, 600));
	const ids = rows.map((r) => r.rid);
	if (new Set(ids).size !== ids.length)
		throw new Error(`request_ids repeat: ${ids}`);
	return `${rows.length} results`;
}

// The "full" run as the transcript shows it: reasoning in a part of its
// own, apart from the text; the todowrite, question and bash calls done;
// the model picked.
async function checkFull(page) {
	const parts = await page.$$eval('#transcript .part', (ps) => ps.map((p) =>
		({kind: p.dataset.kind, status: p.dataset.status || '', text: p.innerText,
		    role: p.closest('.msg').dataset.role,
		    who: p.closest('.msg').querySelector('.who').textContent})));
	const r = parts.filter((p) => p.kind === 'reasoning');
	if (!r.some((p) => p.text.includes(THOUGHT) && /^thinking/.test(p.text) &&
	    p.role === 'assistant'))
		throw new Error(`no reasoning part with "${THOUGHT}": ${JSON.stringify(r)}`);
	if (parts.some((p) => p.kind !== 'reasoning' && p.text.includes(THOUGHT)))
		throw new Error('the reasoning shows outside its part');
	if (!parts.some((p) => p.kind === 'text' && p.text === 'All steps are done.'))
		throw new Error('no text part "All steps are done."');
	for (const [tool, out] of [['todowrite', ''], ['question', 'Green'],
	    ['bash', 'full step']]) {
		if (!parts.some((p) => p.kind === 'tool' && p.status === 'completed' &&
		    p.text.startsWith(`\u2699 ${tool} completed`) && p.text.includes(out)))
			throw new Error(`no completed ${tool} call showing "${out}"`);
	}
	const who = parts.filter((p) => p.role === 'assistant').map((p) => p.who);
	if (!who.length || !who.every((w) => w === 'assistant (mock/mock-1):'))
		throw new Error(`assistant headers: ${[...new Set(who)]}`);
	return `${r.length} reasoning, ${parts.filter((p) => p.kind === 'tool').length} ` +
	    `tool, ${parts.filter((p) => p.kind === 'text').length} text parts`;
}

// Where two texts part ways, for the failure message.
function firstDiff(a, b) {
	const x = a.split('\n'), y = b.split('\n');
	for (let i = 0; i < Math.max(x.length, y.length); i++)
		if (x[i] !== y[i])
			return `line ${i + 1}: ${JSON.stringify(x[i])} then ${JSON.stringify(y[i])}` +
			    ` (${x.length} then ${y.length} lines)`;
	return 'no line differs';
}

async function connectWith(page, port, token) {
	await page.fill('#port', String(port));
	await page.fill('#token', token);
	return operate(page, '#connect', 'auth');
}

try {
	site = await serveSmokePage();
	foreign = await serveSmokePage();	// another port: another origin
	broker = await startOcbroker({ocbroker, upstream, logFile,
	    allowOrigins: [site.origin]});
	t.ok(true, `ocbroker ${broker.version} on port ${broker.port}, ` +
	    `--allow-origin ${site.origin}`);

	browser = await chromium.launch({
		executablePath,
		headless: true,
		args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic',
		    '--no-first-run', '--disable-background-networking',
		    '--disable-component-update', '--disable-sync'],
	});
	t.ok(true, `Chromium ${browser.version()} from ${executablePath}`);
	const context = await browser.newContext({viewport: {width: 1280, height: 1000}});
	// Only loopback: anything else the page asks for is a failure.
	const offsite = [];
	await context.route((u) => u.hostname !== '127.0.0.1', (route) => {
		offsite.push(route.request().url());
		return route.abort();
	});
	page = await context.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning')
			consoleErrors.push(m.text());
	});
	page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));

	await t.step('the page loads with its protobuf code', async () => {
		await page.goto(site.pageUrl);
		await page.waitForSelector('#schema-state[data-state="ok"]', {timeout: OP_MS});
		const origin = await page.textContent('#origin');
		if (origin !== site.origin)
			throw new Error(`it shows origin ${origin}`);
	});

	await t.step('a wrong token shows \u274c and the close 1008', async () => {
		const r = await connectWith(page, broker.port, 'f'.repeat(64));
		if (r.state !== 'error' || r.mark !== '\u274c' || !/invalid token/.test(r.text))
			throw new Error(`shows ${r.mark} ${r.text}`);
		seen.add(r.rid);
		await page.waitForFunction(() => /closed 1008/.test(
		    document.getElementById('conn-state').textContent), null, {timeout: OP_MS});
		return `\u274c #${r.rid} ${r.text}`;
	});

	await t.step('the right token: connected', async () => {
		const r = await connectWith(page, broker.port, broker.token);
		if (r.state !== 'ok' || r.mark !== '\u2705')
			throw new Error(`shows ${r.mark} ${r.text}`);
		seen.add(r.rid);
		await page.waitForSelector('#conn-state[data-state="ok"]', {timeout: OP_MS});
		await page.waitForSelector('#ops:not([disabled])', {timeout: OP_MS});
		return `\u2705 #${r.rid} ${r.text}`;
	});

	await t.step('health', () => ok(page, '#op-health', 'health',
	    /healthy, OpenCode \d+\.\d+\.\d+/));
	await t.step('list sessions', () => ok(page, '#op-sessions', 'sessions',
	    /\d+ sessions?/));
	await t.step('list agents', () => ok(page, '#op-agents', 'agents',
	    /[1-9]\d* agents?: .*build/));
	await t.step('providers (GetProviderStatus)', () => ok(page, '#op-providers',
	    'providers', /connected: .*mock|no provider connected/));

	let sid = null;
	await t.step('create a session', async () => {
		await page.fill('#title', 'smoke <b>page</b> & "title"');
		const d = await ok(page, '#op-create', 'create', /ses_[A-Za-z0-9]+/);
		sid = await page.textContent('#session-id');
		if (!/^ses_[A-Za-z0-9]+$/.test(sid))
			throw new Error(`session id shown: ${sid}`);
		return d;
	});
	await t.step('data is shown as text, never as HTML', async () => {
		const n = await page.locator('#results b, #transcript b, #events b, ' +
		    '#session-list b, #session-title b').count();
		if (n !== 0)
			throw new Error(`${n} <b> elements made from a title`);
		const text = await page.textContent('#results');
		if (!text.includes('smoke <b>page</b> & "title"'))
			throw new Error('the title is not shown literally');
	});
	await t.step('list sessions shows the new one', () => ok(page, '#op-sessions',
	    'sessions', new RegExp(sid)));

	await t.step('send "text": the answer streams into the transcript', async () => {
		await page.fill('#message', 'text');
		const d = await ok(page, '#op-send', 'send', /accepted/);
		await transcriptHas(page, HELLO);
		await transcriptHas(page, '[completed: stop');
		return d;
	});

	await t.step('send "slow", then cancel it', async () => {
		await page.fill('#message', 'slow 30');
		const d = await ok(page, '#op-send', 'send', /accepted/);
		await transcriptHas(page, 'tick2 ');
		const c = await ok(page, '#op-cancel', 'cancel', /aborted/);
		await transcriptHas(page, /\[ended with [A-Za-z]+\]/);
		const s = await transcriptText(page);
		if (/tick2[0-9] /.test(s))
			throw new Error('the ticks went on after the cancel');
		return `${d}; ${c}`;
	});

	await t.step('the transcript has the whole exchange', async () => {
		const s = await transcriptText(page);
		for (const re of [/you:\ntext\n/, /assistant[^\n]*:\nHello from the mock/,
		    /you:\nslow 30\n/, /assistant[^\n]*:\ntick1 /])
			if (!re.test(s))
				throw new Error(`no ${re} in the transcript: ${JSON.stringify(s)}`);
	});

	await t.step('every result shows \u2705 but the wrong token, ids unique',
	    () => allOk(page, 1));

	// ---- protocol v2: a small real client ----

	let full = null;	// the "full" session's id
	await t.step('create a session for the "full" run', async () => {
		await page.fill('#title', 'full run');
		const d = await ok(page, '#op-create', 'create', /ses_[A-Za-z0-9]+/);
		full = await page.textContent('#session-id');
		await lastResult(page, 'history', /0 messages/);
		return d;
	});

	await t.step('pick the model mock/mock-1 (filled from ListProviders)', async () => {
		const vals = await page.$$eval('#model option', (os) => os.map((o) => o.value));
		if (!vals.includes('mock/mock-1'))
			throw new Error(`the picker offers ${JSON.stringify(vals)}`);
		await page.selectOption('#model', 'mock/mock-1');
		return `${vals.length - 1} models`;
	});

	await t.step('send "full" with that model', async () => {
		await page.fill('#message', 'full');
		return ok(page, '#op-send', 'send', /accepted for mock\/mock-1/);
	});

	await t.step('the todo list shows the agent\'s three todos (todo_updated)',
	    async () => {
		await page.waitForFunction(() =>
			document.querySelectorAll('#todos li').length === 3, null,
		    {timeout: STREAM_MS});
		const st = await page.$$eval('#todos li', (ls) => ls.map((l) => l.dataset.status));
		if (st.join() !== 'completed,in_progress,pending')
			throw new Error(`statuses ${st}`);
		return (await page.innerText('#todos')).replace(/\n/g, ' | ');
	});

	await t.step('the question shows with its options; answer "Green"', async () => {
		const q = page.locator('#pending .card.question');
		await q.waitFor({timeout: STREAM_MS});
		const opts = await q.locator('label.option').allTextContents();
		for (const w of ['Blue', 'Green', 'Red'])
			if (!opts.some((o) => o.includes(w)))
				throw new Error(`no option ${w}: ${opts}`);
		await q.locator('label.option', {hasText: 'Green'}).locator('input').check();
		const d = await ok(page, '#pending .card.question button.answer', 'answer',
		    /answered Green/);
		await q.waitFor({state: 'detached', timeout: OP_MS});
		return d;
	});

	await t.step('the permission shows (bash); allow it once', async () => {
		const c = page.locator('#pending .card.permission');
		await c.waitFor({timeout: STREAM_MS});
		const head = await c.locator('.card-head').textContent();
		if (!/bash/.test(head))
			throw new Error(`the card says ${head}`);
		const d = await ok(page, '#pending .card.permission button.once', 'permit',
		    /permission once/);
		await c.waitFor({state: 'detached', timeout: OP_MS});
		return `${head}; ${d}`;
	});

	await t.step('the answer completes', async () => {
		await transcriptHas(page, /All steps are done\.\n\[completed: stop/);
		await page.waitForFunction(() =>
			document.getElementById('session-status').textContent === 'idle',
		    null, {timeout: STREAM_MS});
	});

	await t.step('reasoning is shown apart from the answer', () => checkFull(page));

	await t.step('every result shows \u2705 but the wrong token, ids unique',
	    () => allOk(page, 1));

	const before = await transcriptText(page);
	const todosBefore = await page.innerText('#todos');
	await page.screenshot({path: shot, fullPage: true});
	shotTaken = true;
	t.ok(fs.statSync(shot).size > 10000, `screenshot ${shot}`);

	await t.step('reload the page and connect again', async () => {
		await page.reload();
		seen.clear();	// a new page counts its request_ids from 1
		await page.waitForSelector('#schema-state[data-state="ok"]', {timeout: OP_MS});
		const r = await connectWith(page, broker.port, broker.token);
		if (r.state !== 'ok')
			throw new Error(`shows ${r.mark} ${r.text}`);
		await lastResult(page, 'pending', /0 questions, 0 permissions/);
		if (await page.locator('#pending .card').count() !== 0)
			throw new Error('a card is left');
		return r.text;
	});

	await t.step('pick the session: history in pages of 3, "load older" until ' +
	    'there is no more', async () => {
		await page.fill('#page-size', '3');
		await page.click(`#session-list li[data-id="${full}"] button.pick`);
		await lastResult(page, 'history', /3 messages, older ones exist/);
		let pages = 1;
		while (await page.isEnabled('#op-older')) {
			await ok(page, '#op-older', 'older', /messages?, /);
			if (++pages > 20)
				throw new Error('"load older" never ends');
		}
		await lastResult(page, 'todos', /3 todos/);
		return `${pages} pages`;
	});

	await t.step('the transcript rebuilt from history is the streamed one',
	    async () => {
		const after = await transcriptText(page);
		if (after !== before)
			throw new Error('it differs: ' + firstDiff(before, after));
		return `${before.split('\n').length} lines`;
	});

	await t.step('so are the todos (GetTodos)', async () => {
		const after = await page.innerText('#todos');
		if (after !== todosBefore)
			throw new Error(`${JSON.stringify(todosBefore)} then ${JSON.stringify(after)}`);
	});

	await t.step('reasoning is shown apart after the reload too', () => checkFull(page));
	await page.screenshot({path: shot2, fullPage: true}).catch(() => {});

	// Sends prompt, waits for its card (a question or a permission), reloads
	// the page and picks the session again: ListPending must bring it back.
	async function leaveOpenAndReload(prompt, card, pending) {
		await page.selectOption('#model', 'mock/mock-1');
		await page.fill('#message', prompt);
		await ok(page, '#op-send', 'send', /accepted/);
		await page.locator(`#pending .card.${card}`).waitFor({timeout: STREAM_MS});
		await page.reload();
		seen.clear();
		await page.waitForSelector('#schema-state[data-state="ok"]', {timeout: OP_MS});
		await connectWith(page, broker.port, broker.token);
		await lastResult(page, 'pending', pending);
		await page.click(`#session-list li[data-id="${full}"] button.pick`);
		await lastResult(page, 'history', /messages/);
	}

	await t.step('a question left open survives a reload (ListPending)', async () => {
		await leaveOpenAndReload('question', 'question', /1 question, 0 permissions/);
		const q = page.locator('#pending .card.question');
		await q.locator('label.option', {hasText: 'Blue'}).locator('input').check();
		await ok(page, '#pending .card.question button.answer', 'answer',
		    /answered Blue/);
		await transcriptHas(page, 'You chose Blue.');
	});

	await t.step('so does a permission request (ListPending)', async () => {
		await leaveOpenAndReload('ask', 'permission', /0 questions, 1 permission$/);
		await ok(page, '#pending .card.permission button.once', 'permit',
		    /permission once/);
		await transcriptHas(page, ASKED);
	});

	await t.step('rename the session', async () => {
		await page.fill('#title', 'renamed <i>full</i>');
		const d = await ok(page, '#op-rename', 'rename', /renamed <i>full<\/i>/);
		const li = await page.textContent(`#session-list li[data-id="${full}"] button.pick`);
		if (li !== 'renamed <i>full</i>')
			throw new Error(`the list shows ${li}`);
		if (await page.locator('#session-list i').count() !== 0)
			throw new Error('a title became HTML');
		return d;
	});

	let forked = null;
	await t.step('fork it: the copy opens with the whole history', async () => {
		await page.fill('#page-size', '50');
		const d = await ok(page, '#op-fork', 'fork', /forked into ses_/);
		forked = await page.textContent('#session-id');
		if (forked === full)
			throw new Error('still the old session');
		await lastResult(page, 'history', /messages/);
		await transcriptHas(page, 'You chose Blue.');
		await transcriptHas(page, 'All steps are done.');
		await transcriptHas(page, ASKED);
		return d;
	});

	await t.step('revert the last prompt, then a new one drops it (MessageRemoved)',
	    async () => {
		const d = await ok(page, '#op-revert', 'revert', /reverted/);
		if (await page.locator('#transcript .msg.reverted').count() < 2)
			throw new Error('the reverted messages are not marked');
		await page.fill('#message', 'text');
		await ok(page, '#op-send', 'send', /accepted/);
		await transcriptHas(page, HELLO);
		await page.waitForFunction((w) => !document.getElementById('transcript')
		    .innerText.includes(w), ASKED, {timeout: STREAM_MS});
		await transcriptHas(page, 'You chose Blue.');
		await transcriptHas(page, 'All steps are done.');
		return d;
	});

	await t.step('reject a question: its card goes, its call ends in an error',
	    async () => {
		await page.fill('#message', 'question');
		await ok(page, '#op-send', 'send', /accepted/);
		const q = page.locator('#pending .card.question');
		await q.waitFor({timeout: STREAM_MS});
		const d = await ok(page, '#pending .card.question button.reject', 'reject',
		    /question rejected/);
		await q.waitFor({state: 'detached', timeout: OP_MS});
		await page.locator('#transcript .part[data-kind="tool"][data-status="error"]',
		    {hasText: 'question error'}).waitFor({timeout: STREAM_MS});
		return d;
	});

	await t.step('every result shows \u2705, ids unique', () => allOk(page, 0));

	await t.step('a page from an origin that is not allowed cannot connect',
	    async () => {
		const p2 = await context.newPage();
		const msgs = [];
		p2.on('console', (m) => msgs.push(m.text()));
		await p2.goto(foreign.pageUrl);
		await p2.waitForSelector('#schema-state[data-state="ok"]', {timeout: OP_MS});
		await p2.fill('#port', String(broker.port));
		await p2.fill('#token', broker.token);
		await p2.click('#connect');
		await p2.waitForSelector('#conn-state[data-state="error"]', {timeout: OP_MS});
		const st = await p2.textContent('#conn-state');
		if (!/closed 1006/.test(st) || !st.includes(foreign.origin))
			throw new Error(`shows ${st}`);
		if (!msgs.some((m) => /\b403\b/.test(m)))
			throw new Error(`no 403 in the console: ${msgs.join(' | ')}`);
		if (await p2.locator('#results li[data-state="ok"]').count() !== 0)
			throw new Error('something succeeded');
		await p2.close();
	});

	t.ok(consoleErrors.length === 0, 'no console error or warning, no CSP violation',
	    consoleErrors.join(' | '));
	t.ok(offsite.length === 0, 'no request left 127.0.0.1', offsite.join(' '));

	await t.step('disconnect', async () => {
		await page.click('#disconnect');
		await page.waitForSelector('#conn-state[data-state="closed"]', {timeout: OP_MS});
		return await page.textContent('#conn-state');
	});
} catch (e) {
	t.ok(false, 'smoke page test', e.message.split('\n')[0]);
} finally {
	// A failed run still leaves a picture of where it stopped.
	if (page && !shotTaken)
		await page.screenshot({path: shot, fullPage: true}).catch(() => {});
	if (browser)
		await browser.close().catch(() => {});
	if (broker) {
		const st = await broker.stop();
		t.ok(st.code === 0, 'ocbroker exits 0 on SIGTERM', JSON.stringify(st));
	}
	if (site)
		await site.close();
	if (foreign)
		await foreign.close();
}
process.exit(t.summary() ? 0 : 1);
