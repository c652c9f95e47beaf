"""Tickets (工单): call records, the ticket lifecycle, deadlines, supervision and reports."""
