#!/bin/sh
# Test stand-in for the official rabbitmq image's entrypoint (see Dockerfile.rabbitmq): the default
# user comes from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (written where the server reads its
# settings, /etc/rabbitmq/conf.d/, next to the files mounted there), then the node runs in the
# foreground as the rabbitmq user.
set -eu
mkdir -p /etc/rabbitmq/conf.d
umask 077
{
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
} > /etc/rabbitmq/conf.d/10-defaults.conf
chown rabbitmq:rabbitmq /etc/rabbitmq/conf.d/10-defaults.conf
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
export HOME=/var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
