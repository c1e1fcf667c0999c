# A VPC peering connection between two sites (in different regions or the same one) and the
# routes both ways. Both VPCs belong to the same account.

resource "aws_vpc_peering_connection" "this" {
  region      = var.requester.region
  vpc_id      = var.requester.vpc_id
  peer_vpc_id = var.accepter.vpc_id
  peer_region = var.accepter.region
  auto_accept = false
  tags        = merge(var.tags, { Name = var.name, Side = "requester" })
}

resource "aws_vpc_peering_connection_accepter" "this" {
  region                    = var.accepter.region
  vpc_peering_connection_id = aws_vpc_peering_connection.this.id
  auto_accept               = true
  tags                      = merge(var.tags, { Name = var.name, Side = "accepter" })
}

resource "aws_route" "to_accepter" {
  count = length(var.requester.route_table_ids)

  region                    = var.requester.region
  route_table_id            = var.requester.route_table_ids[count.index]
  destination_cidr_block    = var.accepter.cidr
  vpc_peering_connection_id = aws_vpc_peering_connection.this.id

  depends_on = [aws_vpc_peering_connection_accepter.this]
}

resource "aws_route" "to_requester" {
  count = length(var.accepter.route_table_ids)

  region                    = var.accepter.region
  route_table_id            = var.accepter.route_table_ids[count.index]
  destination_cidr_block    = var.requester.cidr
  vpc_peering_connection_id = aws_vpc_peering_connection.this.id

  depends_on = [aws_vpc_peering_connection_accepter.this]
}
