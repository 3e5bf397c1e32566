-- The transactional `shop` database written by the shop simulator and read by the extractor.
-- Columns of customers, orders and order_items are exactly those of shopflow.contracts (without `dt`).
-- Every statement is idempotent: running the file twice changes nothing.

create table if not exists products (
    product_id integer primary key,
    title text not null,
    price numeric(10, 2) not null check (price >= 0),
    category text not null
);

create table if not exists customers (
    customer_id bigint primary key,
    first_name text not null,
    last_name text not null,
    email text not null unique,
    phone text,
    city text not null,
    country text not null,
    registered_at timestamptz not null,
    loyalty_segment text not null
        check (loyalty_segment in ('bronze', 'silver', 'gold', 'platinum')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table if not exists orders (
    order_id bigint primary key,
    customer_id bigint not null references customers (customer_id),
    ordered_at timestamptz not null,
    status text not null
        check (status in ('placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')),
    payment_method text not null
        check (payment_method in ('credit_card', 'debit_card', 'paypal', 'apple_pay', 'bank_transfer')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table if not exists order_items (
    order_item_id bigint primary key,
    order_id bigint not null references orders (order_id),
    product_id integer not null references products (product_id),
    quantity integer not null check (quantity > 0),
    unit_price numeric(10, 2) not null check (unit_price >= 0),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

-- The extractor selects each entity by an updated_at interval: these keep that a range scan.
create index if not exists customers_updated_at_idx on customers (updated_at);
create index if not exists orders_updated_at_idx on orders (updated_at);
create index if not exists order_items_updated_at_idx on order_items (updated_at);
create index if not exists orders_customer_id_idx on orders (customer_id);
create index if not exists orders_ordered_at_idx on orders (ordered_at);
create index if not exists order_items_order_id_idx on order_items (order_id);

-- One row: what the simulator has written so far, so a re-run skips simulated days and refuses
-- to continue with another seed or scale.
create table if not exists simulation_state (
    singleton boolean primary key default true check (singleton),
    seed bigint not null,
    scale double precision not null check (scale > 0),
    first_day date not null,
    last_day date not null check (last_day >= first_day),
    -- Clickstream events of last_day that a late delivery pushes into the next day's hour=00 object,
    -- as JSON lines; written into that object when the next day is simulated.
    late_events text not null default ''
);
