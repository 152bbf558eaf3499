package main

import "testing"

func TestSummarise(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i) // 100..1, unsorted
	}
	d := summarise(xs)
	want := dist{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100}
	if d != want {
		t.Errorf("summarise = %+v, want %+v", d, want)
	}
	if xs[0] != 100 {
		t.Error("summarise sorted its input")
	}
	if (summarise(nil) != dist{}) {
		t.Error("summarise(nil) is not zero")
	}
	if d := summarise([]float64{7}); d.P50 != 7 || d.P99 != 7 {
		t.Errorf("summarise([7]) = %+v", d)
	}
}
