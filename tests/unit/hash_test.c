/*
 * Tests for src/utils/hash.{c,h}: FNV-1a 64 against the published test
 * vectors (identifier.c's metric names depend on the exact values), and the
 * chained table: lookups through colliding hashes, growth, removal from
 * any place in a chain, iteration that frees as it goes, and the insertion
 * order the series table's output order rests on.
 */
#include "collectd_compat.h"

#include "hash.h"

#include <collectd/core/testing.h>

typedef struct {
  int key;
  bool seen;
  hash_node_t node;
} item_t;

static bool item_equal(const hash_node_t *n, const void *key) {
  return HASH_ENTRY(n, const item_t, node)->key == *(const int *)key;
}

static item_t *item_find(const hash_table_t *t, uint64_t hash, int key) {
  hash_node_t *n = hash_table_find(t, hash, item_equal, &key);
  return n != NULL ? HASH_ENTRY(n, item_t, node) : NULL;
}

static int freed;
static void item_free(hash_node_t *n) {
  freed++;
  free(HASH_ENTRY(n, item_t, node));
}

static item_t *item_new(hash_table_t *t, int key, uint64_t hash) {
  item_t *it = calloc(1, sizeof(*it));
  if (it == NULL)
    return NULL;
  it->key = key;
  hash_table_insert(t, &it->node, hash);
  return it;
}

DEF_TEST(fnv1a64_vectors) {
  /* http://www.isthe.com/chongo/src/fnv/test_fnv.c */
  EXPECT_EQ_UINT64(UINT64_C(0xcbf29ce484222325), hash_fnv1a64("", 0));
  EXPECT_EQ_UINT64(UINT64_C(0xaf63dc4c8601ec8c), hash_fnv1a64("a", 1));
  EXPECT_EQ_UINT64(UINT64_C(0x85944171f73967e8), hash_fnv1a64("foobar", 6));
  /* update continues a hash: pieces hash as their concatenation */
  uint64_t h = hash_fnv1a64_update(HASH_FNV1A64_OFFSET, "foo", 3);
  EXPECT_EQ_UINT64(hash_fnv1a64("foobar", 6), hash_fnv1a64_update(h, "bar", 3));
  return 0;
}

DEF_TEST(empty_tables) {
  hash_table_t zero = {0};
  EXPECT_EQ_PTR(NULL, hash_table_find(&zero, 1, NULL, NULL));
  EXPECT_EQ_PTR(NULL, hash_table_first(&zero));
  EXPECT_EQ_INT(0, (int)hash_table_count(&zero));
  hash_table_destroy(&zero, item_free);

  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 5, HASH_TABLE_GROWS));
  EXPECT_EQ_INT(8, (int)t.n_buckets); /* rounded up to a power of two */
  EXPECT_EQ_PTR(NULL, hash_table_first(&t));
  hash_table_destroy(&t, item_free);
  EXPECT_EQ_PTR(NULL, t.buckets);
  CHECK_ZERO(hash_table_init(&t, 0, HASH_TABLE_FIXED));
  EXPECT_EQ_INT(1, (int)t.n_buckets);
  hash_table_destroy(&t, NULL);
  return 0;
}

DEF_TEST(bounded_tables) {
  hash_table_t t;
  /* half as many buckets as the bound, rounded up to a power of two */
  CHECK_ZERO(hash_table_init_bounded(&t, 65536, 1024));
  EXPECT_EQ_INT(32768, (int)t.n_buckets);
  OK(!t.grows);
  hash_table_destroy(&t, NULL);
  CHECK_ZERO(hash_table_init_bounded(&t, 3000, 1024));
  EXPECT_EQ_INT(2048, (int)t.n_buckets);
  hash_table_destroy(&t, NULL);
  /* a small bound still gets the minimum */
  CHECK_ZERO(hash_table_init_bounded(&t, 10, 1024));
  EXPECT_EQ_INT(1024, (int)t.n_buckets);
  hash_table_destroy(&t, NULL);
  return 0;
}

DEF_TEST(colliding_hashes) {
  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 4, HASH_TABLE_FIXED));
  /* 1, 2 and 3 share a hash; 4 shares their bucket only */
  for (int k = 1; k <= 3; k++)
    CHECK_NOT_NULL(item_new(&t, k, 42));
  CHECK_NOT_NULL(item_new(&t, 4, 42 + 4));
  for (int k = 1; k <= 3; k++) {
    item_t *it = item_find(&t, 42, k);
    CHECK_NOT_NULL(it);
    EXPECT_EQ_INT(k, it->key);
  }
  EXPECT_EQ_PTR(NULL, item_find(&t, 42, 4)); /* right key, wrong hash */
  EXPECT_EQ_INT(4, item_find(&t, 46, 4)->key);
  EXPECT_EQ_PTR(NULL, item_find(&t, 42, 5));
  /* without a callback the hash alone decides: the newest node wins */
  EXPECT_EQ_INT(
      3, HASH_ENTRY(hash_table_find(&t, 42, NULL, NULL), item_t, node)->key);
  EXPECT_EQ_INT(4, (int)hash_table_count(&t));
  freed = 0;
  hash_table_destroy(&t, item_free);
  EXPECT_EQ_INT(4, freed);
  return 0;
}

/* Keys several nodes share: find, then find_next through the rest. */
static bool item_key_parity(const hash_node_t *n, const void *key) {
  return HASH_ENTRY(n, const item_t, node)->key % 2 == *(const int *)key;
}

DEF_TEST(find_every_node_of_a_shared_key) {
  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 4, HASH_TABLE_FIXED));
  /* 1 to 5 share a hash, 6 shares their bucket; the key is the parity */
  for (int k = 1; k <= 5; k++)
    CHECK_NOT_NULL(item_new(&t, k, 42));
  CHECK_NOT_NULL(item_new(&t, 7, 42 + 4));
  int odd = 1, sum = 0, found = 0;
  for (hash_node_t *n = hash_table_find(&t, 42, item_key_parity, &odd);
       n != NULL; n = hash_table_find_next(&t, n, item_key_parity, &odd)) {
    sum += HASH_ENTRY(n, item_t, node)->key;
    found++;
  }
  EXPECT_EQ_INT(3, found); /* 1, 3, 5: not 7, whose hash differs */
  EXPECT_EQ_INT(9, sum);
  hash_table_destroy(&t, item_free);
  return 0;
}

DEF_TEST(growth) {
  hash_table_t grows, fixed;
  CHECK_ZERO(hash_table_init(&grows, 2, HASH_TABLE_GROWS));
  CHECK_ZERO(hash_table_init(&fixed, 2, HASH_TABLE_FIXED));
  size_t made = 0, overfull = 0, lost = 0;
  for (int k = 0; k < 1000; k++) {
    uint64_t h = hash_fnv1a64(&k, sizeof(k));
    made += item_new(&grows, k, h) != NULL;
    made += item_new(&fixed, k, h) != NULL;
    /* doubled as soon as it holds more nodes than buckets */
    overfull += grows.len > grows.n_buckets;
  }
  EXPECT_EQ_INT(2000, (int)made);
  EXPECT_EQ_INT(0, (int)overfull);
  EXPECT_EQ_INT(1024, (int)grows.n_buckets);
  EXPECT_EQ_INT(2, (int)fixed.n_buckets);
  for (int k = 0; k < 1000; k++) {
    uint64_t h = hash_fnv1a64(&k, sizeof(k));
    item_t *a = item_find(&grows, h, k), *b = item_find(&fixed, h, k);
    lost += a == NULL || a->key != k || b == NULL || b->key != k;
  }
  EXPECT_EQ_INT(0, (int)lost);
  freed = 0;
  hash_table_destroy(&grows, item_free);
  hash_table_destroy(&fixed, item_free);
  EXPECT_EQ_INT(2000, freed);
  return 0;
}

DEF_TEST(remove_anywhere_in_a_chain) {
  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 1, HASH_TABLE_FIXED));
  item_t *it[5];
  for (int k = 0; k < 5; k++)
    CHECK_NOT_NULL(it[k] = item_new(&t, k, (uint64_t)k));
  /* one bucket: the chain is 4 3 2 1 0; take its middle, head and tail */
  int order[] = {2, 4, 0};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(order); i++) {
    int k = order[i];
    hash_table_remove(&t, &it[k]->node);
    EXPECT_EQ_PTR(NULL, item_find(&t, (uint64_t)k, k));
    free(it[k]);
  }
  EXPECT_EQ_INT(2, (int)hash_table_count(&t));
  EXPECT_EQ_INT(1, item_find(&t, 1, 1)->key);
  EXPECT_EQ_INT(3, item_find(&t, 3, 3)->key);
  hash_table_destroy(&t, item_free);
  return 0;
}

DEF_TEST(iteration_order) {
  /* Bucket by bucket, each chain newest first: the order series.c's
   * dispatch order comes from. Buckets 0 and 1 of 2. */
  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 2, HASH_TABLE_FIXED));
  int hashes[] = {1, 0, 3, 2, 4};
  for (int k = 0; k < 5; k++)
    CHECK_NOT_NULL(item_new(&t, k, (uint64_t)hashes[k]));
  int want[] = {4, 3, 1, 2, 0}, got = 0;
  HASH_TABLE_FOREACH(&t, n, next) {
    OK(got < 5);
    EXPECT_EQ_INT(want[got], HASH_ENTRY(n, item_t, node)->key);
    got++;
  }
  EXPECT_EQ_INT(5, got);
  hash_table_destroy(&t, item_free);
  return 0;
}

DEF_TEST(iterate_and_free) {
  hash_table_t t;
  CHECK_ZERO(hash_table_init(&t, 4, HASH_TABLE_GROWS));
  int made = 0, twice = 0, visited = 0, wrong = 0;
  for (int k = 0; k < 100; k++)
    made += item_new(&t, k, hash_fnv1a64(&k, sizeof(k))) != NULL;
  EXPECT_EQ_INT(100, made);
  /* drop the odd keys while iterating, mark the even ones */
  HASH_TABLE_FOREACH(&t, n, next) {
    item_t *it = HASH_ENTRY(n, item_t, node);
    twice += it->seen;
    it->seen = true;
    if (it->key % 2 != 0) {
      hash_table_remove(&t, n);
      free(it);
    }
  }
  EXPECT_EQ_INT(0, twice);
  EXPECT_EQ_INT(50, (int)hash_table_count(&t));
  HASH_TABLE_FOREACH(&t, n, next) {
    item_t *it = HASH_ENTRY(n, item_t, node);
    wrong += !it->seen || it->key % 2 != 0;
    visited++;
  }
  EXPECT_EQ_INT(0, wrong);
  EXPECT_EQ_INT(50, visited);

  /* break ends the whole walk (the macro's two loops are one walk) */
  visited = 0;
  HASH_TABLE_FOREACH(&t, n, next) {
    (void)n;
    if (++visited == 3)
      break;
  }
  EXPECT_EQ_INT(3, visited);

  /* clear keeps the buckets: the table takes nodes again */
  freed = 0;
  hash_table_clear(&t, item_free);
  EXPECT_EQ_INT(50, freed);
  EXPECT_EQ_INT(0, (int)hash_table_count(&t));
  EXPECT_EQ_PTR(NULL, hash_table_first(&t));
  CHECK_NOT_NULL(item_new(&t, 7, 7));
  EXPECT_EQ_INT(7, item_find(&t, 7, 7)->key);
  hash_table_destroy(&t, item_free);
  return 0;
}

DEF_TEST(static_table) {
  static hash_node_t *buckets[8];
  static hash_table_t t = HASH_TABLE_STATIC(buckets);
  EXPECT_EQ_INT(8, (int)t.n_buckets);
  item_t a = {.key = 1}, b = {.key = 2};
  for (int round = 0; round < 2; round++) {
    hash_table_insert(&t, &a.node, 9);
    hash_table_insert(&t, &b.node, 17); /* 9 & 7 == 17 & 7 */
    EXPECT_EQ_PTR(&a, item_find(&t, 9, 1));
    EXPECT_EQ_PTR(&b, item_find(&t, 17, 2));
    hash_table_clear(&t, NULL);
    EXPECT_EQ_PTR(NULL, item_find(&t, 9, 1));
  }
  EXPECT_EQ_PTR(buckets, t.buckets);
  return 0;
}

int main(void) {
  RUN_TEST(fnv1a64_vectors);
  RUN_TEST(empty_tables);
  RUN_TEST(bounded_tables);
  RUN_TEST(colliding_hashes);
  RUN_TEST(find_every_node_of_a_shared_key);
  RUN_TEST(growth);
  RUN_TEST(remove_anywhere_in_a_chain);
  RUN_TEST(iteration_order);
  RUN_TEST(iterate_and_free);
  RUN_TEST(static_table);
  END_TEST;
}
