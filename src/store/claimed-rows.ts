import type { Delivery, OutgoingMail, Subscriber, SubscriberSource, SubscriberStatus } from './types.ts';

/**
 * The one mapping of a claim's joined rows (a delivery or outgoing mail with its subscriber's
 * columns under `subscriber…` names, as every driver's claim SQL returns them).
 */

export interface JoinedSubscriberColumns {
  subscriberId: number;
  subscriberEmail: string;
  subscriberName: string | null;
  subscriberStatus: SubscriberStatus;
  subscriberSource: SubscriberSource;
  subscriberCreatedAt: string;
  subscriberUpdatedAt: string;
  subscriberConfirmedAt: string | null;
  subscriberUnsubscribedAt: string | null;
}

export type ClaimedDeliveryRow = Delivery & JoinedSubscriberColumns;
export type ClaimedMailRow = OutgoingMail & JoinedSubscriberColumns;

function joinedSubscriber(row: JoinedSubscriberColumns): Subscriber {
  return {
    id: row.subscriberId,
    email: row.subscriberEmail,
    name: row.subscriberName,
    status: row.subscriberStatus,
    source: row.subscriberSource,
    createdAt: row.subscriberCreatedAt,
    updatedAt: row.subscriberUpdatedAt,
    confirmedAt: row.subscriberConfirmedAt,
    unsubscribedAt: row.subscriberUnsubscribedAt,
  };
}

export function toClaimedDelivery(row: ClaimedDeliveryRow): { delivery: Delivery; subscriber: Subscriber } {
  return {
    delivery: {
      id: row.id,
      issueSlug: row.issueSlug,
      subscriberId: row.subscriberId,
      state: row.state,
      attempts: row.attempts,
      holder: row.holder,
      leaseUntil: row.leaseUntil,
      nextAttemptAt: row.nextAttemptAt,
      lastReply: row.lastReply,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    },
    subscriber: joinedSubscriber(row),
  };
}

export function toClaimedMail(row: ClaimedMailRow): { mail: OutgoingMail; subscriber: Subscriber } {
  return {
    mail: {
      id: row.id,
      kind: row.kind,
      subscriberId: row.subscriberId,
      state: row.state,
      attempts: row.attempts,
      nextAttemptAt: row.nextAttemptAt,
      leaseHolder: row.leaseHolder,
      leaseUntil: row.leaseUntil,
      lastReply: row.lastReply,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    },
    subscriber: joinedSubscriber(row),
  };
}
