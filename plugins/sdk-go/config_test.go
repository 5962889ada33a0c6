package streamplug

import "testing"

func TestConfig(t *testing.T) {
	c := NewConfig([2]string{"n", "42"}, [2]string{"neg", "-1"}, [2]string{"f", "1.5"},
		[2]string{"b", "true"}, [2]string{"bad", "x1"})
	if v, _ := c.Int("n", 0); v != 42 {
		t.Fatal(v)
	}
	if v, _ := c.Int("missing", 7); v != 7 {
		t.Fatal(v)
	}
	if v, _ := c.Float("f", 0); v != 1.5 {
		t.Fatal(v)
	}
	if v, _ := c.Bool("b", false); !v {
		t.Fatal(v)
	}
	if c.String("missing", "d") != "d" {
		t.Fatal("fallback")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{func() error { _, err := c.Int("bad", 0); return err }(), "config `bad`: not an integer (got \"x1\")"},
		{func() error { _, err := c.Uint("neg", 0); return err }(), "config `neg`: not a non-negative integer (got \"-1\")"},
		{func() error { _, err := c.Bool("n", false); return err }(), "config `n`: not `true` or `false` (got \"42\")"},
		{func() error { _, err := c.Require("nope"); return err }(), "config `nope` is required"},
		{c.DenyUnknown("n", "neg", "f", "b"), "config `bad` is not a known setting (known: n, neg, f, b)"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got %v, want %s", tc.err, tc.want)
		}
	}
	if err := c.DenyUnknown("n", "neg", "f", "b", "bad"); err != nil {
		t.Fatal(err)
	}
}
