package gguf

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// sample is a small file using every metadata type the writer takes.
func sample() *File {
	f32 := make([]byte, 4*3)
	binary.LittleEndian.PutUint32(f32[4:], 0x3f800000) // 1.0
	return &File{
		KV: []KV{
			{"general.architecture", "llama"},
			{"general.alignment", uint32(32)},
			{"u8", uint8(7)}, {"i8", int8(-7)}, {"u16", uint16(700)}, {"i16", int16(-700)},
			{"i32", int32(-70000)}, {"u64", uint64(1 << 40)}, {"i64", int64(-1 << 40)},
			{"f32", float32(1e-5)}, {"f64", 0.25}, {"yes", true}, {"no", false},
			{"tokens", []string{"<unk>", "▁the", ""}},
			{"scores", []float32{0, -1.5}},
			{"types", []int32{2, 6}},
			{"flags", []bool{true, false}},
			{"empty", []uint64{}},
		},
		Tensors: []Tensor{
			{Name: "a", Dims: []uint64{3}, Type: F32, Data: f32},
			{Name: "b", Dims: []uint64{5, 2}, Type: F16, Data: bytes.Repeat([]byte{0, 0x3c}, 10)},
			{Name: "c", Dims: []uint64{1}, Type: F32, Data: []byte{1, 2, 3, 4}},
		},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	in := sample()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if string(b[:4]) != "GGUF" || binary.LittleEndian.Uint32(b[4:]) != 3 {
		t.Fatalf("header % x", b[:8])
	}
	if n := binary.LittleEndian.Uint64(b[8:]); n != 3 {
		t.Errorf("tensor count %d, want 3", n)
	}
	if n := binary.LittleEndian.Uint64(b[16:]); n != uint64(len(in.KV)) {
		t.Errorf("kv count %d, want %d", n, len(in.KV))
	}
	if len(b)%32 != 0 {
		t.Errorf("file length %d is not padded to the alignment", len(b))
	}
	out, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.KV, out.KV) {
		t.Errorf("metadata differs:\n in %#v\nout %#v", in.KV, out.KV)
	}
	if !reflect.DeepEqual(in.Tensors, out.Tensors) {
		t.Errorf("tensors differ:\n in %+v\nout %+v", in.Tensors, out.Tensors)
	}
}

// Tensor data starts on the alignment, and so does each tensor: ggml mmaps
// the file and reads tensors in place.
func TestWriteAlignsTensorData(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// The last tensor "c" holds 01 02 03 04; find it at an aligned place.
	i := bytes.LastIndex(b, []byte{1, 2, 3, 4})
	if i < 0 || i%32 != 0 {
		t.Errorf("tensor c at byte %d, want a multiple of 32", i)
	}
}

func TestWriteRejects(t *testing.T) {
	for name, f := range map[string]*File{
		"short data":     {Tensors: []Tensor{{Name: "x", Dims: []uint64{4}, Type: F32, Data: make([]byte, 12)}}},
		"unknown type":   {Tensors: []Tensor{{Name: "x", Dims: []uint64{1}, Type: 2, Data: make([]byte, 4)}}},
		"bad value":      {KV: []KV{{"k", struct{}{}}}},
		"bad alignment":  {KV: []KV{{"general.alignment", uint32(3)}}},
		"wrong align ty": {KV: []KV{{"general.alignment", 32}}},
	} {
		if err := Write(&bytes.Buffer{}, f); err == nil {
			t.Errorf("%s: Write succeeded", name)
		}
	}
}

func TestReadRejectsCorrupt(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for name, b := range map[string][]byte{
		"bad magic":   append([]byte("GGUX"), good[4:]...),
		"truncated":   good[:len(good)-40],
		"old version": append(append([]byte("GGUF"), 2, 0, 0, 0), good[8:]...),
		"huge count":  append(append([]byte{}, good[:8]...), append(bytes.Repeat([]byte{0xff}, 8), good[16:]...)...),
	} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: Read succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "gguf: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

// FuzzRead: no input makes the reader panic or allocate without bound.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Read(bytes.NewReader(b))
	})
}
