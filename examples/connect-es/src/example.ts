// Floe from TypeScript with Connect: log in, create a namespace, a user and
// a USER table, write and read rows as that user, decode a typed error, and
// subscribe to a live query and receive a change.
//
//   FLOE_ROOT_PASSWORD=… FLOE_SERVER=http://127.0.0.1:7878 npx tsx src/example.ts
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ListValueSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pathToFileURL } from "node:url";
import { AuthService } from "./gen/floe/v1/auth_pb.js";
import { LiveService } from "./gen/floe/v1/live_pb.js";
import { ErrorDetailSchema, QueryService } from "./gen/floe/v1/query_pb.js";

export type Floe = Client<typeof QueryService>;

// session logs in and returns a transport whose calls carry the user's token.
export async function session(baseUrl: string, user: string, password: string): Promise<Transport> {
  const auth = createClient(AuthService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const { accessToken } = await auth.login({ user, password });
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${accessToken}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] });
}

// login returns a QueryService client whose calls carry the user's token.
export async function login(baseUrl: string, user: string, password: string): Promise<Floe> {
  return createClient(QueryService, await session(baseUrl, user, password));
}

// sql runs statements with $1, $2, … bound to params and returns the rows of
// the last one as JSON arrays (BIGINT comes back as a string).
export async function sql(floe: Floe, text: string, ...params: JsonValue[]): Promise<JsonValue[][]> {
  const res = await floe.executeSQL({ sql: text, params: params.map((p) => fromJson(ValueSchema, p)) });
  const last = res.results[res.results.length - 1];
  return (last?.rows ?? []).map((row) => toJson(ListValueSchema, row) as JsonValue[]);
}

export interface LiveChange {
  op: string; // insert, update, delete (upsert on a resume)
  row: JsonValue[]; // the new values (old values are in change.old)
  afterSnapshot: boolean; // its _seq is above the ack's snapshot_seq
}

export interface ExampleResult {
  rows: JsonValue[][]; // alice's notes
  error: { connectCode: string; floeCode: string }; // from SELECT * FROM app.missing
  live: { initialRows: JsonValue[][]; change: LiveChange }; // the live subscription
}

// watchNote subscribes alice to her note `id` (LiveService.Subscribe, a
// server stream over HTTP/1.1), inserts it once the initial rows are in, and
// returns the change the stream delivers. Aborting the call ends the
// stream, and the server drops the subscription.
export async function watchNote(
  live: Client<typeof LiveService>,
  floe: Floe,
  id: number,
  body: string,
  log: (line: string) => void,
): Promise<ExampleResult["live"]> {
  const initialRows: JsonValue[][] = [];
  let snapshot = 0n;
  // Aborting ends the stream (and the HTTP request under it): done in
  // finally, or after 10 s if the change never comes.
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 10_000);
  const stream = live.subscribe(
    { sql: "SUBSCRIBE TO SELECT id, body FROM app.notes WHERE id = $1", params: [fromJson(ValueSchema, id)] },
    { signal: ctrl.signal },
  );
  try {
    for await (const res of stream) {
      switch (res.event.case) {
        case "ack":
          snapshot = res.event.value.snapshotSeq;
          log(`alice: subscribed ${res.event.value.subscriptionId} at _seq ${snapshot}`);
          break;
        case "rows":
          for (const r of res.event.value.rows) initialRows.push(toJson(ListValueSchema, r) as JsonValue[]);
          if (res.event.value.last) {
            // The initial rows are in: write, and the change arrives on the stream.
            await sql(floe, "INSERT INTO app.notes VALUES ($1, $2)", id, body);
          }
          break;
        case "change": {
          const c = res.event.value;
          const row = c.row ? (toJson(ListValueSchema, c.row) as JsonValue[]) : [];
          log(`alice: live ${c.op} _seq ${c.seq}: note ${row[0]}: ${row[1]}`);
          return { initialRows, change: { op: c.op, row, afterSnapshot: c.seq > snapshot } };
        }
        case "resync": // the client fell behind: subscribe again with FROM_SEQ
          throw new Error(`resync at _seq ${res.event.value.fromSeq}: ${res.event.value.reason}`);
        // heartbeats (case "heartbeat") keep an idle stream alive
      }
    }
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  throw new Error("the live stream ended before the change arrived");
}

export async function main(
  baseUrl = process.env.FLOE_SERVER ?? "http://127.0.0.1:7878",
  rootPassword = process.env.FLOE_ROOT_PASSWORD ?? "",
  log: (line: string) => void = console.log,
): Promise<ExampleResult> {
  const root = await login(baseUrl, "root", rootPassword);
  await sql(root, `CREATE NAMESPACE IF NOT EXISTS app;
    CREATE USER IF NOT EXISTS alice WITH PASSWORD 'alice-pass-1';
    CREATE USER TABLE IF NOT EXISTS app.notes (id BIGINT PRIMARY KEY, body TEXT)`);
  log("root: created namespace app, user alice, user table app.notes");

  // A USER table keeps one partition per user: alice reads and writes hers.
  const alice = await login(baseUrl, "alice", "alice-pass-1");
  await sql(alice, `INSERT INTO app.notes VALUES ($1, $2), ($3, $4)
    ON CONFLICT (id) DO UPDATE SET body = excluded.body`, 1, "hello from alice", 2, "buy milk");
  await sql(alice, "DELETE FROM app.notes WHERE id = $1", 3); // written by the live part of a previous run
  const rows = await sql(alice, "SELECT id, body FROM app.notes ORDER BY id");
  for (const [id, body] of rows) log(`alice: note ${id}: ${body}`);

  // Errors are ConnectErrors with a floe.v1.ErrorDetail in their details.
  const error = { connectCode: "", floeCode: "" };
  try {
      await sql(alice, "SELECT * FROM app.missing");
    } catch (err) {
      const e = ConnectError.from(err);
      const [detail] = e.findDetails(ErrorDetailSchema);
      error.connectCode = Code[e.code];
      error.floeCode = detail?.code ?? "";
      log(`alice: error ${error.connectCode} / ${error.floeCode}: ${e.rawMessage}`);
    }

    // Live: subscribe to note 3, insert it, receive the insert.
    const live = createClient(LiveService, await session(baseUrl, "alice", "alice-pass-1"));
    const watched = await watchNote(live, alice, 3, "written while watched", log);
    return { rows, error, live: watched };
  }

  if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
    main().catch((err) => {
      console.error(err);
      process.exit(1);
    });
  }
