/**
 * The store's roles, as the code that uses them declares them. Every method is async, even on
 * SQLite, so PostgreSQL slots in behind the same interfaces; both pass one contract suite.
 */

export type SubscriberStatus = 'pending' | 'active' | 'unsubscribed' | 'bounced' | 'complained';
export type SubscriberSource = 'add' | 'import' | 'form' | 'api';

export interface Subscriber {
  id: number;
  /** Normalised: trimmed, domain lower-cased, IDN domain in Unicode. Unique case-insensitively. */
  email: string;
  name: string | null;
  status: SubscriberStatus;
  source: SubscriberSource;
  createdAt: string;
  updatedAt: string;
  /** When the status last became `active` / `unsubscribed` (ISO instants). */
  confirmedAt: string | null;
  unsubscribedAt: string | null;
}

export type UpsertOutcome = 'added' | 'updated' | 'unchanged' | 'refused';

export interface SubscriberStore {
  /**
   * Adds or updates one subscriber by email. Never reactivates `unsubscribed`, `bounced` or
   * `complained` (outcome `refused`, with the reason) unless `resubscribe` is set; an erased
   * address (suppression hash) is likewise refused.
   */
  upsertSubscriber(input: {
    email: string;
    name?: string | null;
    status: SubscriberStatus;
    source: SubscriberSource;
    resubscribe?: boolean;
    /** When this happened (ISO instant); defaults to now. Injected so tests stay deterministic. */
    at?: string;
    /**
     * Decides and returns the outcome by the same rules but writes nothing (`import --dry-run`);
     * an add returns no subscriber, as none was created.
     */
    dryRun?: boolean;
  }): Promise<{ outcome: UpsertOutcome; subscriber?: Subscriber; reason?: string }>;
  getSubscriber(id: number): Promise<Subscriber | undefined>;
  /** The subscribers of these ids that exist, in one query (the send loop's re-check before each message). */
  getSubscribers(ids: readonly number[]): Promise<Subscriber[]>;
  findSubscriberByEmail(email: string): Promise<Subscriber | undefined>;
  /** Streams subscribers in id order, in pages, so a million never sit in memory at once. */
  listSubscribers(filter: { status?: SubscriberStatus; afterId?: number; limit: number }): Promise<Subscriber[]>;
  countSubscribers(filter?: { status?: SubscriberStatus }): Promise<number>;
  setSubscriberStatus(id: number, status: SubscriberStatus, at: string): Promise<void>;
  /**
   * Erases the personal data (the subscriber and their delivery rows) and keeps only a hash
   * that blocks silent re-adding. False when no subscriber has that address. `at` defaults to now.
   */
  eraseSubscriber(email: string, at?: string): Promise<boolean>;
  /**
   * The confirmation emails the subscription form sent to `email` (matched case-insensitively):
   * how many after `since`, and when the latest of all was. The per-address limits read this.
   */
  confirmationHistory(email: string, since: string): Promise<{ count: number; lastSentAt: string | null }>;
  /**
   * Records one confirmation email to `email` at `at` unless a limit forbids it, in one
   * transaction, so two requests racing for one address never both pass: refused (false,
   * nothing recorded) when the latest was recorded after `cooldownSince`, or when `maxCount`
   * were already recorded after `windowSince`. The log keeps only a hash of the address.
   */
  reserveConfirmationEmail(input: {
    email: string;
    at: string;
    cooldownSince: string;
    windowSince: string;
    maxCount: number;
  }): Promise<boolean>;
  /** Forgets confirmation emails recorded before `before` (no limit looks that far back); returns how many. */
  pruneConfirmationLog(before: string): Promise<number>;
}

export type IssueState = 'draft' | 'scheduled' | 'published' | 'planned' | 'sending' | 'sent' | 'archived';

export interface IssueRecord {
  slug: string;
  title: string;
  contentHash: string;
  sourceFile: string;
  state: IssueState;
  firstSeenAt: string;
  publishedAt: string | null;
  /** When the content hash last changed (feeds' `updated`). */
  updatedAt: string;
  feedId: string;
}

export interface IssueStore {
  getIssue(slug: string): Promise<IssueRecord | undefined>;
  findIssueByContentHash(contentHash: string): Promise<IssueRecord | undefined>;
  listIssues(): Promise<IssueRecord[]>;
  /**
   * Records a new issue with its first state, compare-and-set: true when this call recorded it,
   * false (nothing changed) when the slug was already recorded, by this process or another.
   */
  recordIssue(record: IssueRecord): Promise<boolean>;
  /**
   * Inserts, or updates the title, content hash, source file and dates of an existing row; the
   * slug, feed id and state of an existing row never change here (`transitionIssue` does that).
   */
  saveIssue(record: IssueRecord): Promise<void>;
  /**
   * Compare-and-set: moves the issue to `to` only if its state is one of `from`, in one
   * statement. False when it was in another state (another process moved it first) or is
   * unknown. The allowed moves are in src/publish/issue-state.ts.
   */
  transitionIssue(slug: string, from: readonly IssueState[], to: IssueState, at: string): Promise<boolean>;
  /** True once the store has recorded any issue (the backlog rule needs "is this store new"). */
  hasIssues(): Promise<boolean>;
  /** When the store was made (its first migration), ISO 8601; the backlog is what came before. */
  createdAt(): Promise<string | undefined>;
}

export type DeliveryState = 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'bounced' | 'skipped';

export interface Delivery {
  id: number;
  issueSlug: string;
  subscriberId: number;
  state: DeliveryState;
  attempts: number;
  /** Who holds the row while `sending` (`host:pid:random`); null otherwise. */
  holder: string | null;
  /** Lease expiry while `sending` (ISO instant); a lapsed lease means the holder died or stalled. */
  leaseUntil: string | null;
  nextAttemptAt: string | null;
  lastReply: string | null;
  /** When the row was planned; a row deferred for longer than the give-up age becomes `failed`. */
  createdAt: string;
  updatedAt: string;
}

export type DeliveryCounts = Record<DeliveryState, number>;

/** One outcome of a claimed row, as `markDeliveries` records it. */
export interface DeliveryMark {
  id: number;
  state: Exclude<DeliveryState, 'sending' | 'queued'>;
  reply?: string;
  /** A deferred row's due date (defaults to `at`); ignored for other states. */
  nextAttemptAt?: string;
  /** When the outcome happened. */
  at: string;
}

export interface DeliveryLedger {
  /**
   * Freezes one `queued` row per subscriber `active` now, streaming in chunks; a second call
   * for the same issue adds nothing. Returns how many rows were created.
   */
  planDeliveries(issueSlug: string, at: string): Promise<number>;
  /**
   * Claims up to `limit` rows that are `queued`, or `deferred` and due, for `holder`: marks them
   * `sending` under its lease until `leaseUntil` and returns them with their subscriber. Any
   * number of senders may claim at once; no row goes to two of them. A row `sending` under
   * someone's lease, live or lapsed, is never claimed (an orphan is requeued first).
   */
  claimDeliveries(input: {
    issueSlug: string;
    holder: string;
    limit: number;
    now: string;
    leaseUntil: string;
  }): Promise<{ delivery: Delivery; subscriber: Subscriber }[]>;
  /**
   * The heartbeat: renews to `leaseUntil` the live leases of every row `holder` has in flight,
   * in one update. Returns how many rows it renewed; a lapsed lease stays lapsed.
   */
  renewDeliveryLeases(input: { holder: string; now: string; leaseUntil: string }): Promise<number>;
  /**
   * Records the outcomes of rows `holder` claimed, in one transaction (a batch of marks).
   * Compare-and-set: a row changes only while `holder` has it `sending` under a live lease at
   * `now`; `lost` lists the ids that did not change (the lease lapsed, the row was requeued and
   * maybe taken by another sender, or it was erased): the caller counts them, never retries.
   */
  markDeliveries(input: { holder: string; now: string; marks: readonly DeliveryMark[] }): Promise<{ marked: number; lost: number[] }>;
  /**
   * Puts back to `queued` the rows of the issue `holder` still has `sending` under a live lease
   * (a session error, a stop): what it claimed and did not mark. Returns how many moved.
   */
  releaseDeliveries(input: { issueSlug: string; holder: string; now: string }): Promise<number>;
  /**
   * Puts the issue's orphans back to `queued`: rows `sending` whose lease lapsed at `now` (the
   * holder died, or stalled past its lease). Any sender may call it at any time; a row under a
   * live lease is never touched. Returns how many rows moved.
   */
  requeueOrphans(issueSlug: string, now: string): Promise<number>;
  /** Rows of the issue `sending` under a live lease at `now` (any holder), and when the last lease ends. */
  countInFlight(issueSlug: string, now: string): Promise<{ count: number; until: string | undefined }>;
  /** The earliest `next_attempt_at` among the issue's `deferred` rows, if any. */
  nextDeferredAt(issueSlug: string): Promise<string | undefined>;
  /** Rows of an issue in id order, in pages (status pages, tests, exports). */
  listDeliveries(
    issueSlug: string,
    filter: { state?: DeliveryState; afterId?: number; limit: number },
  ): Promise<Delivery[]>;
  countDeliveries(issueSlug: string): Promise<DeliveryCounts>;
  /**
   * Takes back the plan of an issue nothing was sent for (state `published` or `planned`,
   * every row still `queued` and never attempted): deletes its rows and makes it `archived`,
   * in one transaction. Anything else is refused with the state found, and nothing changes.
   */
  unplanIssue(
    issueSlug: string,
    at?: string,
  ): Promise<{ outcome: 'archived'; removed: number } | { outcome: 'refused'; state: IssueState | undefined }>;
}

/**
 * What one issue's messages are made of, stored when it is planned: the email's subject and
 * parts (with EMAIL_SLOTS for the per-recipient links) and the sender facts it was rendered
 * with. A sender builds the message template from this alone.
 */
export interface StoredRendition {
  issueSlug: string;
  /** The build's render key (content, templates, site config, dates) it was rendered under. */
  renderKey: string;
  subject: string;
  preheader: string;
  html: string;
  text: string;
  /** The front matter's publish_at, if any (ISO). */
  publishAt: string | null;
  /** The site URL the links were built from (no trailing slash). */
  siteUrl: string;
  fromName: string | null;
  fromAddress: string;
  replyTo: string | null;
  envelopeFrom: string;
  listId: string;
  unsubscribeMailto: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The renditions of planned issues (DESIGN.md §4 "The rendition lives in the store"). */
export interface RenditionStore {
  getRendition(issueSlug: string): Promise<StoredRendition | undefined>;
  /**
   * Stores an issue's rendition: always when it has none; in place of the stored one only under
   * another render key and while the issue is not yet being sent (`published`, `planned`,
   * `archived`), decided in one statement. True when this call wrote it.
   */
  saveRendition(rendition: Omit<StoredRendition, 'createdAt' | 'updatedAt'>, at: string): Promise<boolean>;
}

/** The last session error of an issue whose sending is stalled (all instants UTC ISO). */
export interface SendStall {
  issueSlug: string;
  code: string;
  message: string;
  /** When the current run of failures began. */
  since: string;
  /** When the latest failure happened. */
  lastAt: string;
  /** When a sender will try again, if one is scheduled to (the daemon's next pass). */
  nextRetryAt: string | null;
}

/**
 * Stalled sends, recorded by whichever process sends so that `status` (another process) can
 * tell "in progress" from "stuck".
 */
export interface SendStallStore {
  /** Records a session error; a repeat keeps the first `since`. */
  recordSendStall(input: { issueSlug: string; code: string; message: string; at: string; nextRetryAt?: string }): Promise<void>;
  /** Forgets the stall once a send made progress (or the issue is done). */
  clearSendStall(issueSlug: string): Promise<void>;
  getSendStall(issueSlug: string): Promise<SendStall | undefined>;
}

export type OutgoingMailKind = 'confirmation' | 'welcome';
export type OutgoingMailState = 'queued' | 'sending' | 'sent' | 'failed' | 'skipped';

/**
 * One queued email of the subscription flow. It names its recipient and kind only: the message
 * and its token are made when it is sent, so the store holds no live token in plain text.
 */
export interface OutgoingMail {
  id: number;
  kind: OutgoingMailKind;
  subscriberId: number;
  state: OutgoingMailState;
  /** Send attempts so far (a claim counts one). */
  attempts: number;
  /** Not before this instant (a retry's backoff). */
  nextAttemptAt: string;
  /** Who holds the row while `sending`, and until when; a lapsed lease means the sender died. */
  leaseHolder: string | null;
  leaseUntil: string | null;
  lastReply: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the store knows about an address when a subscribe request asks for a confirmation email. */
export interface ConfirmationFacts {
  subscriber: Subscriber | undefined;
  /** No subscriber, but the address was erased (a suppression hash matches). */
  erased: boolean;
  /** Confirmation emails to this address after `windows.addressSince`, and the latest of all. */
  address: { count: number; lastSentAt: string | null };
  /** Confirmation emails to this mailbox (`+tag`s folded) after `windows.mailboxSince`. */
  mailboxCount: number;
  /** Confirmation emails to anyone after `windows.overallSince`. */
  overallCount: number;
}

export type ConfirmationRequestResult<Reason extends string> =
  | { queued: true; action: 'create' | 'resend'; subscriberId: number; mailId: number }
  | { queued: false; reason: Reason; subscriberId?: number };

/**
 * The outgoing-mail queue of the subscription flow: the subscribe and confirm routes queue,
 * a sender loop in the serving process claims with a lease and records what happened.
 */
export interface OutgoingMailStore {
  /**
   * One transaction for a subscribe request: reads the facts, lets `decide` (pure, synchronous)
   * say whether a confirmation goes out, and if so records it in the confirmation log, adds the
   * address as a pending subscriber (source form) when new, and queues the email. Two racing
   * requests for one address never both pass, and a crash cannot keep the subscriber but lose
   * the email.
   */
  requestConfirmation<Reason extends string>(input: {
    email: string;
    name: string | null;
    at: string;
    windows: { addressSince: string; mailboxSince: string; overallSince: string };
    decide(facts: ConfirmationFacts): { send: true } | { send: false; reason: Reason };
  }): Promise<ConfirmationRequestResult<Reason>>;
  /** Makes a subscriber `active` and, when asked, queues their welcome email, in one transaction. */
  activateSubscriber(id: number, at: string, options: { queueWelcome: boolean }): Promise<void>;
  /**
   * Claims up to `limit` rows that are queued and due, or `sending` with a lapsed lease: marks
   * them `sending` under `holder` until `leaseUntil` and returns them with their subscriber.
   */
  claimOutgoingMail(input: { holder: string; now: string; leaseUntil: string; limit: number }): Promise<{ mail: OutgoingMail; subscriber: Subscriber }[]>;
  /**
   * Records the outcome of a claimed row: done (`sent`, `failed`, `skipped`) or back to `queued`
   * until `nextAttemptAt`. False (nothing changed) unless `holder` still holds the row.
   */
  finishOutgoingMail(
    id: number,
    holder: string,
    outcome: { state: Exclude<OutgoingMailState, 'sending'>; reply?: string; nextAttemptAt?: string; at: string },
  ): Promise<boolean>;
  /** The earliest instant a row becomes claimable (a queued row's due date, a lease's end), if any. */
  nextOutgoingMailDue(): Promise<string | undefined>;
  listOutgoingMail(): Promise<OutgoingMail[]>;
  /** Forgets finished rows last changed before `before`; returns how many. */
  pruneOutgoingMail(before: string): Promise<number>;
}

/** A named lease row: one runner at a time per name (`publish`, `scheduler`, `archive`). */
export interface LeaseStore {
  /** Takes or renews the lease if free, expired, or already ours. */
  acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** Who holds the lease and until when (possibly lapsed), so a waiting runner can say so. */
  getLease(name: string): Promise<{ holder: string; until: string } | undefined>;
}

/** Keys for HMAC tokens: the store keeps generated ones so links keep working. */
export interface SecretStore {
  listSecrets(): Promise<{ kid: string; secret: string; createdAt: string }[]>;
  addSecret(kid: string, secret: string, at: string): Promise<void>;
}

export interface Store extends SubscriberStore, IssueStore, RenditionStore, DeliveryLedger, LeaseStore, SecretStore, SendStallStore, OutgoingMailStore, WorkerRegistry, RateSlotStore, SendHoldStore {
  /**
   * Resolves when the store answers and a change could be recorded now; rejects (E_STORE_BUSY
   * while another process holds the write lock, E_STORE otherwise) without waiting. `/readyz`.
   */
  checkReady(): Promise<void>;
  /**
   * Wakes senders early: calls `listener` with an issue's slug whenever rows of it became
   * claimable (planned, the issue moved to `planned`, released, requeued as orphans, its send
   * window hold lifted), in this process or another, and returns
   * the function that stops it. Only a hint, which may be missed or come twice: a sender still
   * polls, and claiming decides. PostgreSQL offers it (LISTEN/NOTIFY on `letterpress_due`);
   * a store without it (SQLite) leaves it undefined, and callers poll alone.
   */
  watchDue?(listener: (issueSlug: string) => void): () => void;
  close(): Promise<void>;
}

/** What a running sender tells the others (and `status`) about itself. */
export type WorkerRole = 'all' | 'worker' | 'scheduler' | 'web';

/** One live sender as `status` shows it (all instants UTC ISO). */
export interface WorkerRecord {
  /** Its holder id in the ledger (`host:pid:random`). */
  holder: string;
  host: string;
  pid: number;
  role: WorkerRole;
  startedAt: string;
  heartbeatAt: string;
  /** Messages handed to the transport and not yet answered. */
  inFlight: number;
  /** Messages the relay accepted since the sender started. */
  sentTotal: number;
  /** Messages per second over its last heartbeat interval. */
  rate: number;
}

/** The registry of senders that run a while (workers, daemons), kept by their heartbeats. */
export interface WorkerRegistry {
  /** Registers the sender or records its heartbeat (the row's host, pid and start stay as first given). */
  beatWorker(worker: Omit<WorkerRecord, 'heartbeatAt'>, at: string): Promise<void>;
  /** A sender that stops cleanly says so at once. */
  removeWorker(holder: string): Promise<void>;
  /** Senders whose heartbeat is at or after `since`, oldest first. */
  listWorkers(since: string): Promise<WorkerRecord[]>;
  /** Forgets senders whose last heartbeat is before `before` (they died); returns how many. */
  pruneWorkers(before: string): Promise<number>;
}

/**
 * Send slots shared by every process on the store (`delivery.globalRateLimit`): a limit several
 * processes must keep together lives in the store (DESIGN.md §5).
 */
export interface RateSlotStore {
  /**
   * Reserves `count` consecutive slots of the named limit, `intervalMs` apart, in one
   * compare-and-set update: the first at the later of `now` and the end of the slots anyone
   * reserved before. Returns the first slot's instant (epoch ms); the others follow at
   * `intervalMs` steps. No two reservations, from any process, ever overlap.
   */
  reserveRateSlots(input: { name: string; count: number; intervalMs: number; now: string }): Promise<number>;
}

/** Issues whose email waits for the send window, as the store records it for every sender. */
export interface SendHoldStore {
  /** Holds an issue for the window (a repeat changes nothing). */
  holdForSendWindow(issueSlug: string, at: string): Promise<void>;
  /** The held issues' slugs. */
  listSendHolds(): Promise<string[]>;
  /** Lifts every hold (the window opened); returns the slugs that were held. */
  releaseSendHolds(): Promise<string[]>;
}
