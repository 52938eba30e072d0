// Runs the example against a real Floe server: ./run.sh starts one and sets
// FLOE_SERVER and FLOE_ROOT_PASSWORD.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { login, main, sql, type ExampleResult } from "./example.js";

const server = process.env.FLOE_SERVER;
const rootPassword = process.env.FLOE_ROOT_PASSWORD;
if (!server || !rootPassword) throw new Error("set FLOE_SERVER and FLOE_ROOT_PASSWORD (./run.sh does)");

let result: ExampleResult;
const output: string[] = [];
before(async () => {
  result = await main(server, rootPassword, (line) => output.push(line));
});

test("alice sees exactly her two rows", () => {
  assert.deepEqual(result.rows, [
    ["1", "hello from alice"], // BIGINT as a string
    ["2", "buy milk"],
  ]);
  assert.ok(output.includes("alice: note 1: hello from alice"), output.join("\n"));
});

test("a missing table is NotFound / TABLE_NOT_FOUND", () => {
  assert.deepEqual(result.error, { connectCode: "NotFound", floeCode: "TABLE_NOT_FOUND" });
});

test("the live subscription delivers the insert made after its initial rows", () => {
  assert.deepEqual(result.live, {
    initialRows: [], // note 3 was deleted before subscribing
    change: { op: "insert", row: ["3", "written while watched"], afterSnapshot: true },
  });
  assert.ok(output.some((l) => /^alice: live insert _seq \d+: note 3: written while watched$/.test(l)), output.join("\n"));
});

test("bob does not see alice's rows", async () => {
  const root = await login(server, "root", rootPassword);
  await sql(root, "CREATE USER IF NOT EXISTS bob WITH PASSWORD 'bob-pass-1'");
  const bob = await login(server, "bob", "bob-pass-1");
  assert.deepEqual(await sql(bob, "SELECT id, body FROM app.notes"), []);
  await sql(bob, "INSERT INTO app.notes VALUES ($1, $2)", 1, "bob's own note 1");
  assert.deepEqual(await sql(bob, "SELECT id, body FROM app.notes"), [["1", "bob's own note 1"]]);
});

test("the example runs again with the same result", async () => {
  assert.deepEqual(await main(server, rootPassword, () => {}), result);
});

test("a wrong password is Unauthenticated", async () => {
  await assert.rejects(login(server, "alice", "wrong-password"), { code: Code.Unauthenticated });
});
