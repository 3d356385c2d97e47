package main

import "net/http"

// serveIETF is filled in below.
func serveIETF(w http.ResponseWriter, s snapshot) {}
