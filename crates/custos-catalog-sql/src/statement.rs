//! SQL built at run time (searches, multi-row inserts) with its values,
//! bound in one place. sqlx's `QueryBuilder` cannot be used generically:
//! its arguments' lifetime would have to outlive the builder itself.
//!
//! Placeholders are written as the database likes them best: `$N` for
//! PostgreSQL, `?` for SQLite, which looks each named parameter up in a
//! list of those before it (a 5,000-value insert cost 25 million
//! comparisons to prepare with `$N`: P4 fell from ~40,000 appends a second
//! to 7,949).

use std::fmt::Write;

/// One value to bind.
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(Some(v))
    }
}
impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        Value::Bytes(v)
    }
}

/// SQL text with `$N` placeholders and the values they stand for.
pub(crate) struct Statement {
    sql: String,
    values: Vec<Value>,
    numbered: bool,
}

impl Statement {
    pub(crate) fn new<D: crate::Dialect>(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            values: Vec::new(),
            numbered: D::NUMBERED_PLACEHOLDERS,
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// A placeholder for `value`.
    pub(crate) fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        if self.numbered {
            let _ = write!(self.sql, "${}", self.values.len());
        } else {
            self.sql.push('?');
        }
        self
    }

    /// `VALUES (…), (…)`: one tuple per item, its values from `row`.
    pub(crate) fn push_values<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut row: impl FnMut(T) -> Vec<Value>,
    ) -> &mut Self {
        self.sql.push_str(" VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.sql.push_str(if i == 0 { "(" } else { ", (" });
            for (j, value) in row(item).into_iter().enumerate() {
                if j > 0 {
                    self.sql.push_str(", ");
                }
                self.push_bind(value);
            }
            self.sql.push(')');
        }
        self
    }

    /// The query, its values bound in order.
    pub(crate) fn query<DB: sqlx::Database>(
        &self,
    ) -> sqlx::query::Query<'_, DB, <DB as sqlx::Database>::Arguments<'_>>
    where
        for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<&'q [u8]>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let mut query = sqlx::query(&self.sql);
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Bytes(v) => query.bind(v.as_deref()),
            };
        }
        query
    }

    /// The query for one value (`SELECT COUNT(*) …`).
    pub(crate) fn query_scalar<DB: sqlx::Database, O>(
        &self,
    ) -> sqlx::query::QueryScalar<'_, DB, O, <DB as sqlx::Database>::Arguments<'_>>
    where
        for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<&'q [u8]>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        O: Send + Unpin,
        (O,): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        let mut query = sqlx::query_scalar(&self.sql);
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Bytes(v) => query.bind(v.as_deref()),
            };
        }
        query
    }
}
