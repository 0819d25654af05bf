package db

import "testing"

func TestCheckURLTakesAHostOrASocketDirectory(t *testing.T) {
	for _, u := range []string{
		"postgres://roundtrip@db.internal:5432/roundtrip?sslmode=require",
		"postgresql://roundtrip:secret@127.0.0.1/roundtrip",
		"postgres://roundtrip@/roundtrip?host=/var/run/postgresql",
		"postgres://roundtrip@/roundtrip?host=/var/run/postgresql&port=5433",
	} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{
		"",
		"127.0.0.1:5432",
		"mysql://root@127.0.0.1/roundtrip",
		"postgres:///roundtrip", // no server at all
		"postgres://roundtrip@/roundtrip?port=5432", // a port but no host
		"postgres://%zz@127.0.0.1/roundtrip",
	} {
		if err := CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) = nil, want an error", u)
		}
	}
}
