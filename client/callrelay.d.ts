// Types of callrelay.js, the browser client of callrelay (API.md, "Browser client").
// Shapes follow schemas/event.schema.json and schemas/call-state.schema.json.

export type CallState = "appeared" | "connected" | "on_hold" | "disconnected";

export interface Party {
  number?: string;
  extension?: string;
}

export interface Disconnect {
  /** Q.850 cause, 0..127. */
  code?: number;
  text?: string;
}

interface EventBase {
  /** Redis stream id "ms-seq": unique and increasing per user. */
  id: string;
  integration: string;
  /** The user (extension) this copy of the event is for. */
  user: string;
  call_id: string;
  /** RFC 3339, UTC, milliseconds. */
  ts: string;
  /** The adapter that produced the event (native, mango, zaas, twilio, ...). */
  source: string;
  /** The PBX's original payload, when the integration keeps it. */
  raw?: unknown;
}

export interface CallEvent extends EventBase {
  kind: "call";
  call: {
    state: CallState;
    direction?: "inbound" | "outbound" | "internal";
    from?: Party;
    to?: Party;
    line?: string;
    is_group_disconnect?: boolean;
    disconnect?: Disconnect;
    campaign?: string;
    crm_contact_id?: string;
  };
}

export interface RecordEvent extends EventBase {
  kind: "record";
  record: {
    status: "available" | "failed";
    recording_id?: string;
    url?: string;
    duration_s?: number;
  };
}

export interface IvrEvent extends EventBase {
  kind: "ivr";
  ivr: { state: CallState; from?: Party; to?: Party; line?: string };
}

export interface RouteResultEvent extends EventBase {
  kind: "route_result";
  route_result: { command_id: string; result: number; to?: Party };
}

export type CallRelayEvent = CallEvent | RecordEvent | IvrEvent | RouteResultEvent;

/** A call that has not ended, as GET /v1/calls/CALL_ID gives it. */
export interface CallSnapshot {
  call_id: string;
  state?: CallState;
  kind?: "call" | "ivr";
  direction?: "inbound" | "outbound" | "internal";
  from?: Party;
  to?: Party;
  line?: string;
  disconnect?: Disconnect;
  recording?: {
    recording_id?: string;
    url?: string;
    status?: "available" | "failed";
    duration_s?: number;
  };
  /** The state of each user's leg, by extension. */
  users: Record<string, CallState>;
  updated?: string;
}

export type ConnectionState = "connecting" | "open" | "closed";

export interface CallRelayOptions {
  /** Returns a websocket URL with a fresh single-use ticket (from POST /v1/channel, via the
   * CRM's backend); called again for every connection. A rejection counts as a failed
   * connection (backoff). */
  channelUrl: () => Promise<string> | string;
  /** Page size for missed events, 1..1000; default 100. */
  limit?: number;
  /** true: the tabs of one browser share one websocket (Web Locks + BroadcastChannel); without
   * those APIs each tab connects by itself. Default false. */
  share?: boolean;
  /** sessionStorage key of the last delivered id; also names the lock (KEY + ":leader") and
   * the BroadcastChannel (KEY) of share mode. Default "callrelay:last". The id is stored with
   * the identity of the connection it came from ("integration/extension", read from the URL
   * channelUrl returns: its ticket, or its extension= and token=): when another user signs in
   * in the same tab, the id is forgotten (that connection registers without `since`, from the
   * user's acknowledged cursor, and de-duplication starts afresh), and in share mode a tab whose
   * identity is not the leader's connects by itself instead of following it. A key per user,
   * e.g. "callrelay:101", still keeps the users' tabs of one browser apart in share mode. */
  storageKey?: string;
}

export interface CallRelayEventMap {
  call: CallEvent;
  record: RecordEvent;
  ivr: IvrEvent;
  route_result: RouteResultEvent;
  /** Every event, whatever its kind (after the kind's own handlers). */
  event: CallRelayEvent;
  /** The calls in progress, from the first register answer of each connection (in share mode,
   * a tab that joins gets the leader's, kept up to date with the events since). */
  calls: CallSnapshot[];
  /** Events were removed by retention before this tab got them. */
  gap: void;
  state: ConnectionState;
}

export class CallRelay {
  constructor(options: CallRelayOptions);
  /** Adds a handler; handlers run once per event, in id order. Exceptions are logged. */
  on<K extends keyof CallRelayEventMap>(name: K, fn: (payload: CallRelayEventMap[K]) => void): this;
  off<K extends keyof CallRelayEventMap>(name: K, fn: (payload: CallRelayEventMap[K]) => void): this;
  /** The current connection state ("closed" before start() and after stop()). */
  readonly state: ConnectionState;
  start(): this;
  /** Closes for good (acknowledges what was delivered first). */
  stop(): void;
}
