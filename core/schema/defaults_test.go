package schema

import (
	"reflect"
	"testing"
)

type withBool struct {
	Levels int     `yaml:"levels" default:"2"`
	Clamp  float64 `yaml:"clamp" default:"2.5"`
	Mode   string  `yaml:"mode" default:"fast"`
	Split  bool    `yaml:"split" default:"true"`
	Offset float64 `yaml:"offset" default:"0"`
	Inner  noise   `yaml:"inner"`
}

// TestFillDefaults: zero fields take their tags' defaults, set fields are kept, bools are left
// as given, nested structs are filled; for a struct without bools the result equals what
// Decode makes of an absent section (the reference for "default").
func TestFillDefaults(t *testing.T) {
	for _, c := range []struct {
		name     string
		in, want withBool
	}{
		{"all zero", withBool{}, withBool{Levels: 2, Clamp: 2.5, Mode: "fast", Inner: noise{Sigma: 0.1}}},
		{"set fields kept", withBool{Levels: 3, Mode: "slow", Split: true, Offset: -1, Inner: noise{Sigma: 0.3}},
			withBool{Levels: 3, Clamp: 2.5, Mode: "slow", Split: true, Offset: -1, Inner: noise{Sigma: 0.3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.in
			FillDefaults(&got)
			if got != c.want {
				t.Errorf("FillDefaults(%+v) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
	var filled, decoded blur
	FillDefaults(&filled)
	if errs := Decode(nil, &decoded, ""); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !reflect.DeepEqual(filled, decoded) {
		t.Errorf("FillDefaults gives %+v, Decode of an absent section %+v", filled, decoded)
	}
}

// TestFillDefaultsPanics: out must point to a struct (a programmer error).
func TestFillDefaultsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("FillDefaults(non-pointer) did not panic")
		}
	}()
	FillDefaults(blur{})
}
