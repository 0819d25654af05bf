// Package labels owns what is printed on a parcel: the prepaid return label
// (a 4x6 inch thermal label, or the same label on a Letter or A4 page for home
// printers, rendered as PDF by [Render]), the carriers that issue tracking
// numbers ([Carrier], [OwnCourier]), and tracking-number arithmetic (UPU S10
// check digits, [NormalizeTracking]).
//
// The package is pure: no database, no network, no clock. Everything a label
// shows comes in through [Label], and the same Label always renders to the
// same bytes.
package labels
