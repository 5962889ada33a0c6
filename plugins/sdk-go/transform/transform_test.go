//go:build wasip1

package transform

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abitest"
)

// copier passes every record through; a record keyed "fail" is an error.
type copier struct{ config [][2]string }

var plugin0 = &copier{}

func init() { Register(plugin0) }

func (c *copier) Setup(config streamplug.Config) error {
	c.config = nil
	for _, k := range []string{"greeting", "empty"} {
		if v, ok := config.Get(k); ok {
			c.config = append(c.config, [2]string{k, v})
		}
	}
	return config.DenyUnknown("greeting", "empty")
}

func (c *copier) Process(in *streamplug.Reader, out *streamplug.Writer) error {
	for rec := range in.All() {
		if string(rec.Key) == "fail" {
			return errors.New("a record keyed fail")
		}
		out.Push(rec)
	}
	return nil
}

func mustSetup(t *testing.T, pairs ...[2]string) {
	t.Helper()
	if _, ok, msg := abitest.Result(t, setup(abitest.LowerConfig(pairs...)), 0); !ok {
		t.Fatalf("setup: %s", msg)
	}
}

func TestSetupLiftsTheConfigAndLowersItsError(t *testing.T) {
	mustSetup(t, [2]string{"greeting", "grüß dich"}, [2]string{"empty", ""})
	if got := plugin0.config; len(got) != 2 || got[0] != [2]string{"greeting", "grüß dich"} || got[1] != [2]string{"empty", ""} {
		t.Fatalf("config seen by the plugin: %q", got)
	}
	_, ok, msg := abitest.Result(t, setup(abitest.LowerConfig([2]string{"colour", "red"})), 0)
	if ok || !strings.Contains(msg, "colour") {
		t.Fatalf("setup with an unknown key: ok=%v %q", ok, msg)
	}
	// A failed setup leaves the plugin unusable.
	_, ok, msg = abitest.Result(t, process(abitest.Lower([]byte{1, 0, 0, 0, 0})), 1)
	if ok || !strings.Contains(msg, "before a successful setup") {
		t.Fatalf("process after a failed setup: ok=%v %q", ok, msg)
	}
}

func TestProcessPassesEverySharedVectorThroughOrFailsAsTheHost(t *testing.T) {
	mustSetup(t)
	for _, v := range abitest.AllVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			addr := process(abitest.Lower(v.Batch))
			// The result must survive a collection until the host reads it.
			runtime.GC()
			got, ok, msg := abitest.Result(t, addr, 1)
			switch {
			case v.Err == "" && !ok:
				t.Fatalf("err %q", msg)
			case v.Err == "" && !bytes.Equal(got, v.Batch):
				t.Fatalf("returned\n%x\nwant\n%x", got, v.Batch)
			case v.Err != "" && ok:
				t.Fatalf("accepted")
			case v.Err != "" && msg != v.Err:
				t.Fatalf("error\n%s\nwant\n%s", msg, v.Err)
			}
		})
	}
}

func TestAPluginErrorIsTheCallsErr(t *testing.T) {
	mustSetup(t)
	w := streamplug.NewWriter(0)
	w.Write(&streamplug.Record{Key: []byte("ok")})
	w.Write(&streamplug.Record{Key: []byte("fail")})
	_, ok, msg := abitest.Result(t, process(abitest.Lower(w.Bytes())), 1)
	if ok || msg != "a record keyed fail" {
		t.Fatalf("ok=%v %q", ok, msg)
	}
}
