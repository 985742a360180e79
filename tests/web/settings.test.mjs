// The settings page's event rules (/settings, "Event rules") against a real syslog receiver: the
// daemon runs with [events.syslog] pointing at a UDP socket of this test, an SMTP server that is
// not there, and a rule with a syslog, an email and a command action that never fires by itself.
// An admin logged in through the page lists the rule as /api/v1/events/rules has it and presses
// "Send test": the UDP socket receives the RFC 5424 test message naming the rule and the admin,
// the page shows the syslog action sent, the email failed with the reason, the command not run
// (and it did not run); the audit trail and the event log record it. An operator sees neither
// the rules nor the button, and the API refuses the rules to them. An admin renames an I/O
// channel on the page: the API, the audit trail, io_names.json and the room & I/O page have the
// new name; refused names are named; "Configured name" gives the file's name back. An admin
// turns the Modbus TCP server on from the page, moves it to another port and turns it off: a real
// Modbus client (mbpoll) reads the plant's counts where the page says it serves, and nowhere
// else; a port that cannot be bound is refused with the old server going on.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { assertNoErrors, launchBrowser, log, openPage, pageLogin, SOURCE_DIR, startDaemon, tempDir, waitFor, waitLive } from "./harness.mjs";

const USERS = [
  { name: "ada", role: "admin", password: "ada-password-1" },
  { name: "otto", role: "operator", password: "otto-password-1" },
];

let dir;
let daemon;
let browser;
let syslog;
const datagrams = [];
let marker;

// A TCP port on loopback that nothing listens on (taken, then closed again).
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

before(async () => {
  dir = tempDir("equalis-web-settings-");
  marker = path.join(dir, "command-ran");
  syslog = dgram.createSocket("udp4");
  syslog.on("message", (m) => datagrams.push(m.toString("utf8")));
  await new Promise((r) => syslog.bind(0, "127.0.0.1", r));
  const smtpPort = await closedPort();
  const config = path.join(dir, "plant.toml");
  const sample = readFileSync(path.join(SOURCE_DIR, "config", "equalis.sample.toml"), "utf8");
  writeFileSync(
    config,
    `${sample}
[events.syslog]
target = "udp://127.0.0.1:${syslog.address().port}"
hostname = "web-test"

[events.smtp]
url = "smtp://127.0.0.1:${smtpPort}"
from = "Equalis <equalis@example.com>"
to = ["ops@example.com"]
starttls = "off"
timeout_s = 5

[[events.rule]]
name = "Night shift"
trigger = ["alarm_raised", "alarm_escalated"]
rule = "test.never_*"
min_level = "alarm"

[[events.rule.action]]
type = "syslog"

[[events.rule.action]]
type = "email"
delay_s = 60

[[events.rule.action]]
type = "command"
command = "touch ${marker}"
`,
  );
  daemon = await startDaemon({ timeScale: 60, config, users: USERS });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  syslog?.close();
});

test("an admin sends a rule's test message to a real syslog receiver from the settings page", { timeout: 120000 }, async () => {
  const api = await daemon.getJson("/api/v1/events/rules");
  const rule = api.rules.find((r) => r.name === "Night shift");
  assert.ok(rule, `the API lists the rule: ${JSON.stringify(api.rules.map((r) => r.name))}`);
  assert.deepEqual(
    rule.actions.map((a) => a.type),
    ["syslog", "email", "command"],
  );

  const page = await openPage(browser, daemon);
  await page.goto("/settings");
  await waitLive(page);
  await pageLogin(page, "ada", "ada-password-1");
  const row = page.locator('tr[data-event-rule="Night shift"]');
  await row.waitFor({ timeout: 15000 });
  const errors = [];
  const text = (await row.textContent()) || "";
  for (const want of ["alarm raised, alarm escalated", "rule test.never_*", "alarm or worse", `syslog → udp://127.0.0.1:${syslog.address().port}`, "email → ops@example.com (after 60 s)", `command → touch ${marker}`]) {
    if (!text.includes(want)) errors.push(`the rule's row does not say ${JSON.stringify(want)}: ${JSON.stringify(text)}`);
  }

  const before = datagrams.length;
  await row.getByRole("button", { name: "Send test" }).click();
  await row.locator("[data-test-action]").first().waitFor({ timeout: 30000 });
  const outcomes = Object.fromEntries(await row.locator("[data-test-action]").evaluateAll((els) => els.map((e) => [e.dataset.testAction, { outcome: e.dataset.testOutcome, text: e.textContent }])));
  if (outcomes.syslog?.outcome !== "sent") errors.push(`syslog: ${JSON.stringify(outcomes.syslog)}, expected sent`);
  if (outcomes.email?.outcome !== "failed" || !/failed: .+/.test(outcomes.email?.text || "")) errors.push(`email to a server that is not there: ${JSON.stringify(outcomes.email)}, expected failed with the reason`);
  if (outcomes.command?.outcome !== "not-run") errors.push(`command: ${JSON.stringify(outcomes.command)}, expected not run`);

  await waitFor(async () => datagrams.length > before, "the test message at the syslog receiver", 10000).catch(() => {});
  const got = datagrams.slice(before).find((d) => d.includes("Test of event rule 'Night shift' sent by ada"));
  if (!got) errors.push(`the syslog receiver got no test message (${datagrams.length - before} datagram(s): ${JSON.stringify(datagrams.slice(before))})`);
  else if (!/^<\d+>1 \S+ web-test equalisd \d+ test \[equalis@32473 event="test" level="info"/.test(got)) errors.push(`not an RFC 5424 test message: ${JSON.stringify(got)}`);
  if (existsSync(marker)) errors.push("the test ran the rule's command");

  const audit = await daemon.getJson("/api/v1/audit?action=event.test");
  const rec = (audit.records || audit.entries || []).find((r) => r.user === "ada" && r.target === "Night shift");
  if (!rec) errors.push(`no event.test record by ada in the audit trail: ${JSON.stringify(audit).slice(0, 400)}`);
  else if (rec.outcome !== "failed" || !rec.detail.includes("1 sent, 1 failed, 1 not run")) errors.push(`audit record: ${JSON.stringify(rec)}`);
  await waitFor(async () => {
    const ev = await daemon.getJson("/api/v1/events?kind=action&q=Night%20shift");
    return ev.events.some((e) => e.message.startsWith("syslog to") && e.message.includes("test"));
  }, "the test delivery in the event log", 10000).catch(() => errors.push("the syslog test delivery is not in the event log"));
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "settings: event rule test");
  log(`OK: test of 'Night shift' — syslog sent (${got.length} bytes received), email failed (${outcomes.email.text}), command not run; audited and in the event log`);
  await page.context().close();
});

test("an operator sees no event rules and the API refuses them", { timeout: 60000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto("/settings");
  await waitLive(page);
  await pageLogin(page, "otto", "otto-password-1");
  await page.waitForFunction(() => document.body.textContent.includes("Settings are for administrators"));
  assert.equal(await page.locator("tr[data-event-rule]").count(), 0);
  assert.equal(await page.getByRole("button", { name: "Send test" }).count(), 0);
  const status = await page.evaluate(async () => (await fetch("/api/v1/events/rules")).status);
  assert.equal(status, 403, "GET /api/v1/events/rules as an operator");
  const post = await page.evaluate(async () => (await fetch("/api/v1/events/test", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"rule":"Night shift"}' })).status);
  assert.ok(post === 403, `POST /api/v1/events/test as an operator: ${post}`);
  log("OK: an operator gets neither the rules nor a test (403)");
  await page.context().close();
});

test("an admin renames an I/O channel: every page shows the new name, and it can be given back", { timeout: 90000 }, async () => {
  const io0 = await daemon.getJson("/api/v1/io");
  const ch0 = io0.devices.flatMap((d) => d.channels).find((c) => c.id === "aux1.di3");
  assert.ok(ch0, "the demo plant has aux1.di3");
  const configured = ch0.configured_name;
  const page = await openPage(browser, daemon);
  await page.goto("/settings");
  await waitLive(page);
  await pageLogin(page, "ada", "ada-password-1");
  const row = page.locator('tr[data-io-channel="aux1.di3"]');
  await row.waitFor({ timeout: 15000 });
  const errors = [];
  if (((await row.locator(".configured-name").textContent()) || "").trim() !== configured) errors.push(`configured name shown ${await row.locator(".configured-name").textContent()}, API ${configured}`);
  const input = row.locator('input[name="name"]');
  await input.fill("   ");
  if (!(await row.getByRole("button", { name: "Save" }).isDisabled())) errors.push("Save is enabled for a blank name");
  await input.fill("Battery room door (north)");
  await row.getByRole("button", { name: "Save" }).click();
  await row.getByText("Saved.").waitFor({ timeout: 15000 });

  const io1 = await daemon.getJson("/api/v1/io");
  const ch1 = io1.devices.flatMap((d) => d.channels).find((c) => c.id === "aux1.di3");
  if (ch1.name !== "Battery room door (north)" || ch1.configured_name !== configured) errors.push(`API after the rename: ${JSON.stringify({ name: ch1.name, configured_name: ch1.configured_name })}`);
  const audit = await daemon.getJson("/api/v1/audit?action=io.rename");
  const rec = (audit.records || audit.entries || []).find((r) => r.user === "ada" && r.target === "aux1.di3");
  if (!rec || rec.new !== "Battery room door (north)" || rec.old !== `${configured} (configured name)`) errors.push(`no io.rename record by ada with the old and new names: ${JSON.stringify(audit).slice(0, 300)}`);
  const kept = JSON.parse(readFileSync(path.join(daemon.dataDir, "io_names.json"), "utf8"));
  if (kept.names["aux1.di3"] !== "Battery room door (north)") errors.push(`io_names.json: ${JSON.stringify(kept)}`);

  // The room & I/O page shows it.
  await page.goto("/environment");
  await waitLive(page);
  await page.locator('tr[data-channel="aux1.di3"]').waitFor({ timeout: 15000 });
  const shown = (await page.locator('tr[data-channel="aux1.di3"]').textContent()) || "";
  if (!shown.includes("Battery room door (north)")) errors.push(`the I/O table shows ${JSON.stringify(shown)}`);

  // A name the daemon refuses: a clear reason, nothing changed.
  const bad = await daemon.request("PUT", "/api/v1/io/channels/aux1.di3/name", { name: "Door\u0007" });
  if (bad.status !== 400 || !String(bad.body?.error?.message).includes("control character")) errors.push(`a control character: ${bad.status} ${JSON.stringify(bad.body)}`);
  const none = await daemon.request("PUT", "/api/v1/io/channels/aux9.di1/name", { name: "Nowhere" });
  if (none.status !== 404) errors.push(`an unknown channel: ${none.status} ${JSON.stringify(none.body)}`);

  // Given back its configured name.
  await page.goto("/settings");
  await waitLive(page);
  await row.waitFor({ timeout: 15000 });
  await row.getByRole("button", { name: "Configured name" }).click();
  await waitFor(async () => (await daemon.getJson("/api/v1/io")).devices.flatMap((d) => d.channels).find((c) => c.id === "aux1.di3").name === configured, "the configured name back", 10000).catch(() => errors.push("the configured name did not come back"));
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "settings: I/O names");
  log(`OK: aux1.di3 renamed on the settings page (API, audit, io_names.json, I/O table), refusals named, '${configured}' given back`);
  await page.context().close();
});

// mbpoll, once: exit code, the registers read ({address: value}) and what it printed.
function mbpoll(port, first, count) {
  const p = spawnSync("mbpoll", ["-m", "tcp", "-p", String(port), "-a", "1", "-0", "-r", String(first), "-c", String(count), "-t", "4", "-1", "-o", "2", "127.0.0.1"], { encoding: "utf8", timeout: 20000 });
  const out = `${p.stdout || ""}${p.stderr || ""}`;
  const values = Object.fromEntries([...out.matchAll(/^\[(\d+)\]:\s+(-?\d+)/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  return { code: p.status, values, out };
}

test("an admin turns Modbus TCP on, moves it and turns it off from the settings page; mbpoll follows", { timeout: 120000 }, async () => {
  const strings = (await daemon.getJson("/api/v1/strings")).strings;
  const modules = strings.reduce((n, s) => n + s.block_count, 0);
  const [port1, port2] = [await closedPort(), await closedPort()];
  const page = await openPage(browser, daemon);
  await page.goto("/settings");
  await waitLive(page);
  await pageLogin(page, "ada", "ada-password-1");
  const row = page.locator('tr[data-protocol="modbus_tcp"]');
  await row.waitFor({ timeout: 15000 });
  const errors = [];
  const state = async () => ((await row.locator(".protocol-state").textContent()) || "").trim();
  if ((await state()) !== "off") errors.push(`Modbus TCP shown ${await state()} before it was turned on`);
  if (mbpoll(port1, 1003, 2).code === 0) errors.push(`something answers Modbus on ${port1} before it was turned on`);

  const input = row.locator('input[name="spec"]');
  await input.fill(`127.0.0.1:${port1}`);
  await row.getByRole("button", { name: "Apply" }).click();
  await row.getByText("Serving.").waitFor({ timeout: 15000 });
  let read = mbpoll(port1, 1003, 2);
  if (read.code !== 0 || read.values[1003] !== strings.length || read.values[1004] !== modules) errors.push(`mbpoll on ${port1}: ${JSON.stringify(read.values)}, API ${strings.length} strings ${modules} modules; ${read.out.slice(-300)}`);
  const shown = (await row.textContent()) || "";
  if (!shown.includes(`Modbus TCP on 127.0.0.1:${port1}`) || !shown.includes("changed here")) errors.push(`the row after Apply: ${JSON.stringify(shown)}`);
  const kept = JSON.parse(readFileSync(path.join(daemon.dataDir, "protocols.json"), "utf8"));
  if (kept.protocols.modbus_tcp !== `127.0.0.1:${port1}`) errors.push(`protocols.json: ${JSON.stringify(kept)}`);

  // A spec that cannot start: refused with the adapter's reason, the old one goes on serving.
  await input.fill("127.0.0.1:70000");
  await row.getByRole("button", { name: "Apply" }).click();
  await row.locator('[role="alert"]').filter({ hasText: "70000" }).waitFor({ timeout: 15000 });
  read = mbpoll(port1, 1003, 1);
  if (read.code !== 0) errors.push(`after a refused change the old port ${port1} no longer answers: ${read.out.slice(-300)}`);

  // Moved to another port: the old one is closed, the new one answers.
  await input.fill(`127.0.0.1:${port2}`);
  await row.getByRole("button", { name: "Apply" }).click();
  await row.getByText(`Modbus TCP on 127.0.0.1:${port2}`).waitFor({ timeout: 15000 });
  if (mbpoll(port2, 1003, 1).values[1003] !== strings.length) errors.push(`mbpoll on the new port ${port2} does not read the string count`);
  if (mbpoll(port1, 1003, 1).code === 0) errors.push(`the old port ${port1} still answers after the move`);

  // Off, with confirmation.
  page.once("dialog", (d) => d.accept());
  await row.getByRole("button", { name: "Turn off" }).click();
  await row.getByText("Off.").waitFor({ timeout: 15000 });
  if (mbpoll(port2, 1003, 1).code === 0) errors.push(`port ${port2} still answers after Turn off`);

  const audit = await daemon.getJson("/api/v1/audit?action=protocol.change");
  const recs = (audit.records || []).filter((r) => r.user === "ada" && r.target === "modbus_tcp");
  const ok = recs.filter((r) => r.outcome === "ok").map((r) => `${r.old} → ${r.new}`);
  const want = [`off → 127.0.0.1:${port1}`, `127.0.0.1:${port1} → 127.0.0.1:${port2}`, `127.0.0.1:${port2} → off`];
  if (JSON.stringify(ok) !== JSON.stringify(want)) errors.push(`audit: ${JSON.stringify(ok)}, expected ${JSON.stringify(want)}`);
  if (!recs.some((r) => r.outcome === "refused" && r.detail.includes("70000"))) errors.push(`no refused protocol.change record naming 70000: ${JSON.stringify(recs)}`);

  // An operator may not read or change the adapters.
  const otto = await openPage(browser, daemon);
  await otto.goto("/settings");
  await waitLive(otto);
  await pageLogin(otto, "otto", "otto-password-1");
  const denied = await otto.evaluate(async () => [(await fetch("/api/v1/system/protocols")).status, (await fetch("/api/v1/system/protocols/modbus_tcp", { method: "PUT", headers: { "Content-Type": "application/json" }, body: '{"spec":"127.0.0.1:1502"}' })).status]);
  if (denied[0] !== 403 || denied[1] !== 403) errors.push(`an operator's GET and PUT: ${denied}`);
  // The one refused change answers 400, which the browser logs.
  const refusals = page.problems.filter((p) => /status of 400/.test(p));
  if (refusals.length !== 1) errors.push(`${refusals.length} requests answered 400, expected the one refused spec`);
  errors.push(...page.problems.filter((p) => !/status of 400/.test(p)).map((p) => `page error: ${p}`));
  assertNoErrors(errors, "settings: protocols");
  log(`OK: Modbus TCP turned on at ${port1} (mbpoll reads ${strings.length} strings, ${modules} modules), a bad port refused with the old one serving, moved to ${port2}, turned off; audited; an operator refused`);
  await page.context().close();
  await otto.context().close();
});
