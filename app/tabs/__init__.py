"""One module per tab, each exporting create_tab(ctx, blocks)."""
