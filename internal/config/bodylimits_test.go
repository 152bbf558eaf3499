package config

import (
	"testing"
	"time"
)

func TestBodyLimitsAndMaxConnections(t *testing.T) {
	data := []byte(`listen:
  body_read_timeout: 30s
services:
  web:
    process: {command: ./web}
    ports: [8080, 8081]
  api:
    hosts: [api.example.com]
    process: {command: ./api}
    ports: [8090, 8091]
    body_read_timeout: 0s
    min_body_rate: 0
    buffer_requests: true
`)
	c, err := parse(data, "cutover.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.BodyReadTimeout.D() != 30*time.Second || c.Listen.MinBodyRate != 500 || c.Listen.MaxConnections != 10000 {
		t.Errorf("listen = %+v; want body_read_timeout 30s, min_body_rate 500, max_connections 10000", c.Listen)
	}
	web, api := c.Services["web"], c.Services["api"]
	if web.BodyTimeout() != 30*time.Second || web.BodyRate() != 500 || web.BufferRequests {
		t.Errorf("web inherits %v %d %v; want 30s 500 false", web.BodyTimeout(), web.BodyRate(), web.BufferRequests)
	}
	if api.BodyTimeout() != 0 || api.BodyRate() != 0 || !api.BufferRequests {
		t.Errorf("api has %v %d %v; want the explicit 0s 0 true", api.BodyTimeout(), api.BodyRate(), api.BufferRequests)
	}
	var code Service
	code.ApplyDefaults()
	if code.BodyTimeout() != 60*time.Second || code.BodyRate() != 500 {
		t.Errorf("code-built service: %v %d; want 60s 500", code.BodyTimeout(), code.BodyRate())
	}
}
