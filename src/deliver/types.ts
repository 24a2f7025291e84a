/**
 * The delivery side's shared shapes: what a transport is handed and what it answers. The send
 * loop (dispatcher) only ever sees these, so SMTP, the outbox and a discarding transport for
 * benchmarks are interchangeable.
 */

/** One ready-to-send message: the SMTP envelope and the complete raw RFC 5322 bytes. */
export interface OutgoingMessage {
  envelope: {
    /** MAIL FROM (ASCII; the envelope sender from config). */
    from: string;
    /** RCPT TO: exactly one recipient, ASCII (IDN domains as punycode). */
    to: string;
  };
  /**
   * The message as consecutive byte ranges: the pieces shared by every recipient of an issue
   * and the few filled in for this one. Sending them as they are spares a 70 KB copy per
   * message (and the garbage it leaves behind).
   */
  parts: readonly Buffer[];
  /** Total length of `parts` in bytes. */
  size: number;
  /** Header section and body as one buffer (joined on first use), CRLF line endings, every line at most 998 octets. */
  readonly raw: Buffer;
  /** The Message-ID header value with angle brackets. */
  messageId: string;
  /** Outbox file naming and logs: the issue slug. */
  issueSlug: string;
}

/** What became of one message (never thrown: per-recipient outcomes are data). */
export type SendOutcome =
  | { status: 'sent'; reply: string }
  /** 4xx for this recipient, or the connection dropped or timed out: try again later. */
  | {
      status: 'deferred';
      reply: string;
      /**
       * The whole message went out and no answer came before the socket timeout: the relay, not
       * the recipient, is the likely fault (the send loop's circuit breaker counts these).
       */
      timedOutAfterData?: boolean;
    }
  /** 5xx for this recipient: do not try again. */
  | { status: 'failed'; reply: string }
  /** 5xx saying the mailbox does not exist: do not try again, and stop mailing the address. */
  | { status: 'bounced'; reply: string };

/**
 * Sends messages. `send` resolves with a per-recipient outcome, and rejects (with a
 * `LetterpressError`: `E_SMTP_AUTH`, `E_SMTP_TLS`, `E_OUTBOX`, …) only when the problem is the
 * sender's (auth, policy, bad sender, TLS, unreachable server, unwritable outbox): the run
 * stops and the rows stay queued.
 */
export interface Transport {
  /** For logs and the summary: `smtp://host:port`, `outbox data/outbox`, … */
  readonly description: string;
  /** How many `send` calls may usefully be in flight at once. */
  readonly concurrency: number;
  send(message: OutgoingMessage): Promise<SendOutcome>;
  /** Lets in-flight messages finish, then closes connections. */
  close(): Promise<void>;
}
