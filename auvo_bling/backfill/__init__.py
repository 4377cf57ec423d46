"""`auvo-bling backfill`: the first full customer sync, at the limit of Bling's quota, resumable.

The activation guide says the hosted integration's first sync "takes about an hour". Most of that
hour is Bling's 3 requests/s, so the one thing that makes it short is not spending requests:
both sides are read page by page (100 records a call), paired in memory
(`consumers.customers.matching`, pure), and then every Bling request left is a write, close to
one call per written record. No per-record lookups: the index is the lookup.

Phases, each with a progress line (count, rate, ETA) on stderr:

1. index Auvo: every customer, full records, 100 a page (and the newest `dateLastUpdate`);
2. index Bling: every contato (`criterio=1`: active and inactive), base fields, 100 a page;
3. link: pair (id map, marker, externalId, CPF/CNPJ, e-mail; reading in full only the document-less
   contatos the e-mail rule needs), confirm stale links with one read, then record the pairs: id
   map link plus the fingerprints of what each side holds, many pairs per transaction;
4. write: create what is missing on the target side(s); in one-directional modes update pairs
   whose list fields differ (source wins); in `both` leave differing pairs to the live flow.

Every write goes through the consumers' own writers (`AuvoCustomerToBlingContact.write_planned`,
`BlingContactToAuvoCustomer.write_planned`): the same entity lock, the same write intent, the same
create-in-doubt wait and the same one-transaction record as a live consumer's write. So a backfill
beside running consumers cannot create what a consumer just created (the id map is read again
under the lock), a create that timed out is waited for (EntityBusy: the record is retried at the
end of the phase) and looked up by its `AUVO-<id>` code instead of being sent twice, and the
pollers' echo of our own writes is dropped. The pairing is not run again per record: that is what
keeps the write phase at about one Bling call per written record. Stopping and running again is
the resume: the re-index is cheap (one call per 100 records), everything already
written is now linked and drops out of the plan; the `backfill.*` cursors say where it stopped.

At the end the poller cursors move past what the backfill covered (Auvo: the newest
`dateLastUpdate` indexed; Bling: the moment the backfill started), so the live pollers do not
publish every customer again.
"""
