// Package labels owns what is printed on a parcel: the prepaid return label
// (a 4x6 inch thermal label, or the same label on a Letter or A4 page for home
// printers, rendered as PDF by [Render]), the carriers that issue tracking
// numbers ([Carrier], [OwnCourier]), and tracking-number arithmetic (UPU S10
// check digits, [NormalizeTracking]).
//
// Rendering is pure: no database, no network, no clock. Everything a label shows
// comes in through [Label], and the same Label always renders to the same bytes.
// [Service] (parcels.go, api.go, expiry.go) is the stateful part: it issues a parcel
// with its tracking number when a return is approved, voids labels when a return
// ends, expires returns whose parcels never moved, and serves the label PDFs and
// carrier events over the API.
package labels
