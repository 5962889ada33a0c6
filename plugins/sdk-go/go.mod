module streamplug.dev/sdk-go

go 1.24
