# syntax=docker/dockerfile:1
# faka in a container: a static binary on an empty base image, run as a
# non-root user, the shop's data in the /data volume.
#
#   docker build -t faka .
#   docker run -p 8080:8080 -v faka-data:/data \
#     -e FAKA_PUBLIC_URL=http://127.0.0.1:8080 faka serve --demo

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
# timetzdata: the shop's time zone works without /usr/share/zoneinfo.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/faka ./cmd/faka \
 && mkdir -p /out/data \
 && echo 'faka:x:65532:65532:faka:/data:/sbin/nologin' > /out/passwd \
 && echo 'faka:x:65532:' > /out/group

FROM scratch
# TLS roots for the payment gateways' APIs.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/faka /faka
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV FAKA_ADDR=0.0.0.0:8080 \
    FAKA_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 CMD ["/faka", "healthcheck"]
ENTRYPOINT ["/faka"]
CMD ["serve"]
