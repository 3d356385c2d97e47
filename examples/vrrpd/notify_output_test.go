package main

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"testing"
	"testing/iotest"
)

// cappedBuffer.ReadFrom keeps what Write keeps: the first maxOutput bytes
// and the count of the others, whatever the reads' sizes.
func TestCappedBufferReadFrom(t *testing.T) {
	for _, size := range []int{0, 1, 255, 256, 257, maxOutput - 1, maxOutput, maxOutput + 1, 3*maxOutput + 7} {
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		var want cappedBuffer
		want.max = maxOutput
		_, _ = want.Write(data)
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			got := cappedBuffer{max: maxOutput}
			n, err := io.Copy(&got, r)
			if err != nil || n != int64(size) {
				t.Errorf("%d bytes, %s reads: io.Copy = %d, %v", size, name, n, err)
			}
			if !bytes.Equal(got.buf, want.buf) || got.dropped != want.dropped {
				t.Errorf("%d bytes, %s reads: kept %d, dropped %d; want %d, %d", size, name, len(got.buf), got.dropped, len(want.buf), want.dropped)
			}
		}
	}
}

// Copying a command's output pipe into a cappedBuffer, as shellRun does,
// allocates a few hundred bytes when the command writes nothing, not
// io.Copy's 32 kB buffer (8,188 commands, 268 MB of garbage, when a
// master of 4,094 links starts; issue 12).
func TestCommandOutputCopyAllocates(t *testing.T) {
	const runs = 50
	pipes := make([][2]*os.File, runs)
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Close() // the command wrote nothing and exited
		pipes[i] = [2]*os.File{r, w}
	}
	defer func() {
		for _, p := range pipes {
			p[0].Close()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, p := range pipes {
		out := &cappedBuffer{max: maxOutput}
		if _, err := io.Copy(out, p[0]); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2048 {
		t.Errorf("copying an empty command output allocates %d bytes; want at most 2 kB", per)
	}
}
