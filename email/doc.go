// Package email writes and sends the shopper's emails about a return: confirmed
// (with the label attached and the drop-off steps), waiting for review, approved,
// declined, a reminder before an unused label expires, parcel on its way, parcel
// arrived, refund sent, refund delayed, store credit issued, and completed (with the
// feedback request).
//
//   - Which event writes which message (kinds.go): the notify package tells Service
//     of every event in the transaction that publishes it (notify.Mailer); the
//     message is a row of email_messages, unique per return, kind and reference,
//     and an outbox job, so a change writes its message exactly once, and only if
//     it commits. The reminder comes from a periodic sweep (reminder.go).
//   - Sending (send.go): the job renders the message from the return as it is
//     then, adds a link that opens the return's status page without signing in
//     (links.go), and hands it to the SMTP server (smtp.go, go-mail). A refused
//     message is tried again with backoff, then parked with the error on the
//     timeline; every sent one is noted there ("Email sent: refund sent", kept on
//     the message's row and read into the timeline at the time it was sent).
//   - Words (messages.go, messages_{de,fr,es,ja}.go) are kept apart from the
//     layout (templates/), one catalogue per language; a message speaks its
//     order's locale (lang.go), else English.
//   - A shopper who unsubscribes (List-Unsubscribe, one click) still gets the
//     messages about money: refund sent, refund delayed, store credit issued.
package email
