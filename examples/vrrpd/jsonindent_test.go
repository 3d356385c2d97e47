package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// appendIndent indents any valid JSON, once compacted, byte for byte as
// json.Indent does: nesting, empty objects and arrays, strings holding
// brackets, commas, colons, escaped quotes and backslashes.
func FuzzAppendIndent(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `1`, `"x"`, `null`,
		`{"a":[],"b":{},"c":[{}],"d":[[],[1,2]],"e":{"f":{"g":null}}}`,
		`{"s":"a\"b\\c{}[],:","t":"\\","u":"\u00e9\n"}`,
		`[{"name":"VI_<1>&","vips":["10.0.0.1/24"],"stats":{"RefreshRateMs":1000}}]`,
		`[1e5, -0.5, true, false, "]"]`,
	} {
		f.Add([]byte(s), "    ")
	}
	f.Fuzz(func(t *testing.T, data []byte, prefix string) {
		var compact bytes.Buffer
		if json.Compact(&compact, data) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), prefix, "  "); err != nil {
			t.Fatal(err)
		}
		if got := appendIndent(nil, compact.Bytes(), prefix, "  "); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendIndent(%q):\n%s\njson.Indent:\n%s", compact.Bytes(), got, want.Bytes())
		}
	})
}
