package greenmint

// MaxMeterIDLen is the longest meter ID the contract registers, in bytes.
const MaxMeterIDLen = 64

// MeterIDPattern is the form of every meter ID the contract registers,
// as a regular expression: what CheckMeterID accepts.
const MeterIDPattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

// CheckMeterID returns EINVALID unless id has the form under which the
// contract registers meters (MeterIDPattern): 1 to 64 ASCII letters, digits,
// '.', '_' or '-', the first a letter or a digit. An ID of any other form
// names no meter, so it can be refused without asking the ledger. The
// message quotes at most MaxMeterIDLen bytes of id.
func CheckMeterID(id string) error {
	ok := len(id) > 0 && len(id) <= MaxMeterIDLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if ok {
		return nil
	}
	quoted := id
	if len(quoted) > MaxMeterIDLen {
		quoted = quoted[:MaxMeterIDLen] + "…"
	}
	return Errorf(EINVALID, "meter_id %q is malformed (want %s)", quoted, MeterIDPattern)
}
