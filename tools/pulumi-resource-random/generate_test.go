package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRandomIntegerSeeded(t *testing.T) {
	for seed, want := range map[string]int{"12345": 3, "123456": 2} {
		got, err := randomInteger(1, 3, seed)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "seed "+seed, got, want)
	}
	if _, err := randomInteger(2, 1, ""); err != errIntegerRange {
		t.Errorf("max < min: %v", err)
	}
}

func count(s, set string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

func TestGenerateStringHonoursMinimums(t *testing.T) {
	for range 200 {
		s, err := generateString(stringParamsT{length: 20, upper: true, lower: true, numeric: true, special: true,
			minUpper: 4, minLower: 4, minNumeric: 4, minSpecl: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 20 || count(s, upperChars) < 4 || count(s, lowerChars) < 4 || count(s, numChars) < 4 ||
			count(s, defaultSpecial) < 4 {
			t.Fatalf("%q does not honour the minimums", s)
		}
	}
}

func TestGenerateStringClasses(t *testing.T) {
	all := upperChars + lowerChars + numChars + defaultSpecial
	for range 200 {
		// lvs-dr's VRRP pass: no specials.
		s, _ := generateString(stringParamsT{length: 8, upper: true, lower: true, numeric: true})
		if len(s) != 8 || count(s, defaultSpecial) != 0 {
			t.Fatalf("special false: %q", s)
		}
		// As upstream, min_special draws specials even when special is false.
		s, _ = generateString(stringParamsT{length: 6, numeric: true, minSpecl: 2})
		if count(s, defaultSpecial) != 2 || count(s, numChars) != 4 {
			t.Fatalf("special false, minSpecial 2: %q", s)
		}
		// overrideSpecial replaces the special set; the length counts runes.
		s, _ = generateString(stringParamsT{length: 10, special: true, overrideSpecial: "€ß", minSpecl: 10})
		if utf8.RuneCountInString(s) != 10 || count(s, "€ß") != 10 {
			t.Fatalf("overrideSpecial: %q", s)
		}
		s, _ = generateString(stringParamsT{length: 30, upper: true, lower: true, numeric: true, special: true})
		if count(s, all) != 30 {
			t.Fatalf("default set: %q", s)
		}
	}
	if _, err := generateString(stringParamsT{length: 4}); err == nil {
		t.Errorf("an empty character set generated a string")
	}
}
