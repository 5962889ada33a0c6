module __NAME__

go 1.24

require streamplug.dev/sdk-go v0.0.0

replace streamplug.dev/sdk-go => __REPO__/plugins/sdk-go
