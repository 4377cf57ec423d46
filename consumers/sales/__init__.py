"""Sales documents: Auvo tasks and quotations as Bling pedidos and propostas, and the catalog."""
