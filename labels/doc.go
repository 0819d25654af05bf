// Package labels owns what is printed on a parcel: the prepaid return label
// (a 4x6 inch thermal label, or the same label on a Letter or A4 page for home
// printers, rendered as PDF by [Render]), the carriers that issue tracking
// numbers ([Carrier], [OwnCourier]), and tracking-number arithmetic (UPU S10
// check digits, [NormalizeTracking]).
//
// Rendering is pure: no database, no network, no clock. Everything a label shows
// comes in through [Label], and the same Label always renders to the same bytes.
// [Service] (parcels.go, api.go, expiry.go) is the stateful part and the only code
// that writes parcels: it is the returns store's Labels effect (returns.Effects),
// issuing a parcel with its tracking number when a return is approved and voiding
// labels when a return ends, inside that change's returns.Tx; it expires returns
// whose parcels never moved, records their arrival for receiving, and serves the
// label PDFs and carrier events over the API.
package labels
