package money

// Exponent returns the number of decimal places of the ISO 4217 currency code (0 for
// JPY, 2 for EUR, 3 for KWD, 4 for CLF), and false when code is not an active ISO 4217
// currency. Codes are matched exactly: "eur" is not a currency, "EUR" is.
//
// The table holds the active codes of ISO 4217 list one that have a minor unit, funds
// codes included (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW). Precious metals, SDRs and
// testing codes (XAU, XDR, XTS, XXX, …) have no minor unit and are not money here, and
// withdrawn codes (HRK, SLL, ANG, ZWL, …) are not accepted for new orders.
func Exponent(code string) (int, bool) {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0, true
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3, true
	case "CLF", "UYW":
		return 4, true
	case "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN",
		"BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
		"CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK",
		"DKK", "DOP", "DZD",
		"EGP", "ERN", "ETB", "EUR",
		"FJD", "FKP",
		"GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
		"HKD", "HNL", "HTG", "HUF",
		"IDR", "ILS", "INR", "IRR",
		"JMD",
		"KES", "KGS", "KHR", "KPW", "KYD", "KZT",
		"LAK", "LBP", "LKR", "LRD", "LSL",
		"MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN",
		"NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
		"PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
		"QAR",
		"RON", "RSD", "RUB",
		"SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
		"THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS",
		"UAH", "USD", "USN", "UYU", "UZS",
		"VED", "VES",
		"WST",
		"XCD", "XCG",
		"YER",
		"ZAR", "ZMW", "ZWG":
		return 2, true
	}
	return 0, false
}

// Valid reports whether code is an active ISO 4217 currency code (see Exponent).
func Valid(code string) bool {
	_, ok := Exponent(code)
	return ok
}
