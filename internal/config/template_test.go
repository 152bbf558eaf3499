package config

import "testing"

func TestRender(t *testing.T) {
	data := TemplateData{Version: "2.0", Port: 8081, Service: "shop", Instance: "shop-2.0-1"}
	got, err := Render("java -jar app-{{.Version}}.jar --server.port={{.Port}} # {{.Service}}/{{.Instance}}", data)
	if want := "java -jar app-2.0.jar --server.port=8081 # shop/shop-2.0-1"; err != nil || got != want {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}
	for text, want := range map[string]string{
		"{{.Versoin}}": "bad template: unknown field .Versoin",
		"{{.Port":      "bad template: unclosed action",
		"{{nope}}":     `bad template: function "nope" not defined`,
	} {
		if _, err := Render(text, data); err == nil || err.Error() != want {
			t.Errorf("Render(%q) error = %v, want %q", text, err, want)
		}
	}
}
