// The smoke page (examples/smoke-page) in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser is downloaded)
// against the real ocbroker (OCBROKER) in front of a real OpenCode server
// (OPENCODE_URL) with the mock model.
//
// It serves the page on 127.0.0.1, starts ocbroker with --allow-origin for
// that origin, fills in the port and token from the ready line and clicks
// through every operation; each must show ✅ with its own request_id. The
// mock's "text" answer must stream into the transcript; a "slow" answer is
// cancelled. Also: a wrong token shows ❌, a page from an origin that is not
// allowed cannot connect, and the page logs no error and breaks no CSP rule.
// A screenshot goes to $OUT_DIR/smoke-page.png.
//
// usage: OCBROKER=... OPENCODE_URL=... [OUT_DIR=...] [CHROMIUM=...]
//        node smoke_page_test.mjs
import fs from 'node:fs';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {Checks, env, serveSmokePage, srcdir, startOcbroker} from './lib.mjs';

const HELLO = 'Hello from the mock language model.';
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
fs.rmSync(logFile, {force: true});
fs.rmSync(shot, {force: true});

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

// Waits for the transcript to hold what: a string, or a RegExp.
function transcriptHas(page, what, ms = STREAM_MS) {
	const re = what instanceof RegExp ? what.source : null;
	return page.waitForFunction(([w, r]) => {
		const s = document.getElementById('transcript').textContent;
		return r !== null ? new RegExp(r).test(s) : s.includes(w);
	}, [String(what), re], {timeout: ms});
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
		const n = await page.locator('#results b, #transcript b, #events b').count();
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
		const s = await page.textContent('#transcript');
		if (/tick2[0-9] /.test(s))
			throw new Error('the ticks went on after the cancel');
		return `${d}; ${c}`;
	});

	await t.step('the transcript has the whole exchange', async () => {
		const s = await page.textContent('#transcript');
		for (const w of ['you: text', `assistant: ${HELLO}`, 'you: slow 30',
		    'assistant: tick1 '])
			if (!s.includes(w))
				throw new Error(`no "${w}" in the transcript`);
	});

	await t.step('every result shows \u2705 but the wrong token, ids unique',
	    async () => {
		const rows = await page.$$eval('#results li', (lis) => lis.map((li) =>
			({op: li.dataset.op, rid: li.dataset.rid, state: li.dataset.state})));
		const bad = rows.filter((r, i) => r.state !== (i === 0 ? 'error' : 'ok'));
		if (bad.length)
			throw new Error(JSON.stringify(bad));
		const ids = rows.map((r) => r.rid);
		if (new Set(ids).size !== ids.length)
			throw new Error(`request_ids repeat: ${ids}`);
		return `${rows.length} results`;
	});

	await page.screenshot({path: shot, fullPage: true});
	shotTaken = true;
	t.ok(fs.statSync(shot).size > 10000, `screenshot ${shot}`);

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
