module github.com/dsbridge/dsbridge

go 1.26.8
