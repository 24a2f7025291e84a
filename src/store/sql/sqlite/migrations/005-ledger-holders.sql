-- Many senders, one ledger: a claimed row names its holder (`host:pid:random`), so a heartbeat
-- renews only that holder's leases and a mark or release by a holder whose lease lapsed (its
-- row may have gone to another sender) changes nothing. Rows `sending` before this migration
-- have no holder: nobody can mark them, and they come back as orphans once their lease lapses.
ALTER TABLE deliveries ADD COLUMN holder TEXT;

-- The heartbeat and the hand-back at the end of a run find a holder's rows in flight directly.
CREATE INDEX deliveries_holder ON deliveries (holder) WHERE holder IS NOT NULL;
