# syntax=docker/dockerfile:1
# A static binary on a distroless, non-root base: make image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flink-ha-webhook ./cmd/webhook

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flink-ha-webhook /flink-ha-webhook
USER 65532:65532
ENTRYPOINT ["/flink-ha-webhook"]
CMD ["serve"]
